#pragma once
// How the bytes of a GATT characteristic value or an advertisement field become a typed value,
// and back for writes. Pure functions, no I/O; every error is a value with a reason.
// Types: unsigned/signed integers of 8, 16 and 32 bits, IEEE-754 float32, the IEEE-11073 medical
// SFLOAT (16-bit) and FLOAT (32-bit) that the Bluetooth health profiles use, and raw bytes as hex.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/value.hpp"

namespace fieldlink::ble {

using Bytes = std::vector<std::uint8_t>;

enum class ValueType {
  uint8,
  uint16,
  uint32,
  int8,
  int16,
  int32,
  float32,
  sfloat,   // IEEE-11073 16-bit: 4-bit exponent, 12-bit mantissa
  float11,  // IEEE-11073 32-bit (`float` in the config): 8-bit exponent, 24-bit mantissa
  hex,      // raw bytes, reported as lower-case hex text
};
enum class Endian { little, big };

// Where a value sits in the bytes and how it is scaled: value = raw * scale + value_offset.
struct FieldCodec {
  ValueType type = ValueType::uint8;
  Endian endian = Endian::little;  // GATT's own byte order
  std::size_t offset = 0;          // first byte of the value
  std::size_t length = 0;          // hex: bytes taken (0: to the end); others: their width
  double scale = 1.0;
  double value_offset = 0.0;

  bool scaled() const { return scale != 1.0 || value_offset != 0.0; }
};

// Bytes a type occupies; 0 for hex (variable).
std::size_t type_width(ValueType type);

struct Decoded {
  std::optional<Value> value;
  // An IEEE-11073 special value (NaN, NRes, +INF, -INF, reserved): the value is its name as text
  // and the reading's quality is uncertain, because JSON has no NaN or infinity.
  bool special = false;
  std::string error;  // set when value is empty
};

Decoded decode(const FieldCodec& codec, const Bytes& bytes);

struct Encoded {
  std::optional<Bytes> bytes;
  std::string error;  // set when bytes is empty
};

// The inverse of decode for a JSON value from a command: a number (scaled back and rounded, range
// checked against the type), "NaN"/"NRes"/"+INF"/"-INF" for the 11073 types, a hex string for hex.
// Only the value's own bytes; the caller writes them at codec.offset.
Encoded encode(const FieldCodec& codec, const nlohmann::json& value);

// Lower-case hex without separators, and its inverse (accepts "0a1B", "0a:1b", "0a 1b", "0x0a1b").
std::string to_hex(const Bytes& bytes);
std::optional<Bytes> from_hex(std::string_view text);

}  // namespace fieldlink::ble
