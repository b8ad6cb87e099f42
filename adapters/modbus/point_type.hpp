#pragma once
// The vocabulary of a Modbus register map: the four tables, how a point's registers are typed and
// ordered, and how it is reported. Plain values, no behaviour beyond sizes and names.
#include <cstdint>
#include <string>
#include <string_view>

namespace fieldlink::modbus {

enum class Table { coil, discrete, input, holding };

// Coils and discrete inputs are single bits; input and holding tables are 16-bit registers.
constexpr bool is_bit_table(Table t) {
  return t == Table::coil || t == Table::discrete;
}
// Only coils and holding registers can be written (FC5/15 and FC6/16).
constexpr bool is_writable_table(Table t) {
  return t == Table::coil || t == Table::holding;
}
std::string_view table_name(Table t);

struct PointType {
  enum class Kind {
    boolean,
    int16,
    uint16,
    int32,
    uint32,
    int64,
    uint64,
    float32,
    float64,
    text,
    bits
  };
  Kind kind = Kind::uint16;
  int length = 0;  // characters of string(N); 0 otherwise

  // How many registers (or bits, in a bit table) one value occupies.
  int registers() const;
  std::string name() const;  // "float32", "string(10)"
  friend bool operator==(const PointType&, const PointType&) = default;
};

// The order of the value's bytes A (most significant) .. D on the wire: CDAB swaps words, BADC
// swaps the bytes inside each register, DCBA does both. For 64-bit values "word swap" reverses
// all four registers.
enum class WordOrder { abcd, cdab, badc, dcba };

constexpr bool swaps_words(WordOrder o) {
  return o == WordOrder::cdab || o == WordOrder::dcba;
}
constexpr bool swaps_bytes(WordOrder o) {
  return o == WordOrder::badc || o == WordOrder::dcba;
}

enum class Report { always, change };

enum class Addressing { pdu, modicon };

}  // namespace fieldlink::modbus
