#pragma once
// Register words ↔ typed values, by point type and byte/word order. Pure functions; no errors
// on decode (every bit pattern is some value), a reason on encode when the value cannot be
// written exactly (wrong kind, out of the type's range, finer than the scale, outside min/max).
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "adapters/modbus/register_map.hpp"
#include "core/value.hpp"

namespace fieldlink::modbus {

// The value's bytes, most significant first, from registers in wire order (and back).
std::uint64_t words_to_integer(std::span<const std::uint16_t> words, WordOrder order);
void integer_to_words(std::uint64_t value, WordOrder order, std::span<std::uint16_t> words);

// Appends the point's values: one for most types, 16 flags "<name>.0" .. "<name>.15" for `bits`.
// `words` holds the point's registers, or 0/1 per bit for a bit table.
void decode_point(const Point& point, std::span<const std::uint16_t> words,
                  std::vector<std::pair<std::string, Value>>& out);

struct Encoded {
  std::vector<std::uint16_t> words;  // registers, or 0/1 per bit for a coil
  std::string error;                 // non-empty: why the value cannot be written
};
Encoded encode_point(const Point& point, const Value& value);

}  // namespace fieldlink::modbus
