#include "adapters/ble/value_codec.hpp"

#include <bit>
#include <cmath>
#include <limits>
#include <span>

#include <nlohmann/json.hpp>

namespace fieldlink::ble {

namespace {

// IEEE-11073-20601 reserved mantissas (exponent 0) and their names.
struct Special {
  std::uint32_t raw;
  const char* name;
};
constexpr Special kSfloatSpecials[] = {
    {0x07FF, "NaN"}, {0x0800, "NRes"}, {0x07FE, "+INF"}, {0x0802, "-INF"}, {0x0801, "reserved"}};
constexpr Special kFloatSpecials[] = {{0x007FFFFF, "NaN"},
                                      {0x00800000, "NRes"},
                                      {0x007FFFFE, "+INF"},
                                      {0x00800002, "-INF"},
                                      {0x00800001, "reserved"}};

std::uint64_t read_unsigned(const Bytes& b, std::size_t at, std::size_t width, Endian e) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) {
    const auto byte = b[e == Endian::little ? at + width - 1 - i : at + i];
    v = (v << 8) | byte;
  }
  return v;
}

Bytes write_unsigned(std::uint64_t v, std::size_t width, Endian e) {
  Bytes out(width);
  for (std::size_t i = 0; i < width; ++i) {
    const auto byte = static_cast<std::uint8_t>(v >> (8 * i));
    out[e == Endian::little ? i : width - 1 - i] = byte;
  }
  return out;
}

std::int64_t sign_extend(std::uint64_t v, unsigned bits) {
  const auto m = std::uint64_t{1} << (bits - 1);
  return static_cast<std::int64_t>((v ^ m) - m);
}

// raw × scale + value_offset, dividing where the scale is an exact fraction 1/k, so that
// 2138 × 0.01 is 21.38 and not 21.380000000000003 in the JSON sent upstream.
double apply_scale(double raw, const FieldCodec& c) {
  double v = raw * c.scale;
  if (c.scale != 0.0 && std::abs(c.scale) < 1.0) {
    const double k = 1.0 / c.scale;
    if (std::abs(k - std::round(k)) < 1e-9) v = raw / std::round(k);
  }
  return v + c.value_offset;
}

std::string type_text(ValueType t) {
  switch (t) {
    case ValueType::uint8:
      return "uint8";
    case ValueType::uint16:
      return "uint16";
    case ValueType::uint32:
      return "uint32";
    case ValueType::int8:
      return "int8";
    case ValueType::int16:
      return "int16";
    case ValueType::int32:
      return "int32";
    case ValueType::float32:
      return "float32";
    case ValueType::sfloat:
      return "sfloat";
    case ValueType::float11:
      return "float";
    case ValueType::hex:
      return "hex";
  }
  return "?";
}

// mantissa * 10^exponent for the 11073 formats, or the name of a special value.
Decoded decode_11073(std::uint64_t raw, bool is_short, const FieldCodec& c) {
  const unsigned mbits = is_short ? 12 : 24;
  const auto mask = (std::uint64_t{1} << mbits) - 1;
  const auto exponent_raw = raw >> mbits;
  const auto mantissa_raw = raw & mask;
  if (exponent_raw == 0) {
    for (const auto& s : is_short ? std::span<const Special>(kSfloatSpecials)
                                  : std::span<const Special>(kFloatSpecials)) {
      if (s.raw == mantissa_raw) return {Value(std::string(s.name)), true, {}};
    }
  }
  const auto exponent = sign_extend(exponent_raw, is_short ? 4 : 8);
  const auto mantissa = sign_extend(mantissa_raw, mbits);
  // Multiplying by a power of ten (or dividing by one) keeps 21.5 exactly 21.5 where
  // pow(10, -1) * 215 would not.
  const double magnitude = std::pow(10.0, static_cast<double>(std::abs(exponent)));
  double v = exponent >= 0 ? static_cast<double>(mantissa) * magnitude
                           : static_cast<double>(mantissa) / magnitude;
  v = apply_scale(v, c);
  return {Value(v), false, {}};
}

}  // namespace

std::size_t type_width(ValueType type) {
  switch (type) {
    case ValueType::uint8:
    case ValueType::int8:
      return 1;
    case ValueType::uint16:
    case ValueType::int16:
    case ValueType::sfloat:
      return 2;
    case ValueType::uint32:
    case ValueType::int32:
    case ValueType::float32:
    case ValueType::float11:
      return 4;
    case ValueType::hex:
      return 0;
  }
  return 0;
}

Decoded decode(const FieldCodec& c, const Bytes& bytes) {
  const auto width = c.type == ValueType::hex ? c.length : type_width(c.type);
  if (c.offset > bytes.size() || bytes.size() - c.offset < width ||
      (c.type == ValueType::hex && c.length == 0 && c.offset >= bytes.size())) {
    return {std::nullopt, false,
            type_text(c.type) + " at offset " + std::to_string(c.offset) + " needs " +
                std::to_string(width == 0 ? 1 : width) + " byte(s), the value has " +
                std::to_string(bytes.size())};
  }
  if (c.type == ValueType::hex) {
    const auto end = c.length == 0 ? bytes.size() : c.offset + c.length;
    return {Value(to_hex(Bytes(bytes.begin() + static_cast<std::ptrdiff_t>(c.offset),
                               bytes.begin() + static_cast<std::ptrdiff_t>(end)))),
            false,
            {}};
  }
  const auto raw = read_unsigned(bytes, c.offset, width, c.endian);
  switch (c.type) {
    case ValueType::uint8:
    case ValueType::uint16:
    case ValueType::uint32:
      if (c.scaled()) return {Value(apply_scale(static_cast<double>(raw), c)), false, {}};
      return {Value(static_cast<std::int64_t>(raw)), false, {}};
    case ValueType::int8:
    case ValueType::int16:
    case ValueType::int32: {
      const auto v = sign_extend(raw, static_cast<unsigned>(width * 8));
      if (c.scaled()) return {Value(apply_scale(static_cast<double>(v), c)), false, {}};
      return {Value(v), false, {}};
    }
    case ValueType::float32: {
      const auto f = std::bit_cast<float>(static_cast<std::uint32_t>(raw));
      if (!std::isfinite(f))
        return {Value(std::string(std::isnan(f) ? "NaN" : f > 0 ? "+INF" : "-INF")), true, {}};
      return {Value(apply_scale(static_cast<double>(f), c)), false, {}};
    }
    case ValueType::sfloat:
      return decode_11073(raw, true, c);
    case ValueType::float11:
      return decode_11073(raw, false, c);
    case ValueType::hex:
      break;
  }
  return {std::nullopt, false, "unknown type"};
}

namespace {

Encoded fail(std::string why) {
  return {std::nullopt, std::move(why)};
}

Encoded encode_11073(const FieldCodec& c, const nlohmann::json& value, bool is_short) {
  const unsigned mbits = is_short ? 12 : 24;
  const auto width = type_width(c.type);
  if (value.is_string()) {
    const auto name = value.get<std::string>();
    for (const auto& s : is_short ? std::span<const Special>(kSfloatSpecials)
                                  : std::span<const Special>(kFloatSpecials)) {
      if (name == s.name && name != "reserved") return {write_unsigned(s.raw, width, c.endian), {}};
    }
    return fail("expected a number or one of NaN, NRes, +INF, -INF for " + type_text(c.type) +
                ", got \"" + name + "\"");
  }
  if (!value.is_number()) return fail("expected a number for " + type_text(c.type));
  const double v = (value.get<double>() - c.value_offset) / c.scale;
  // The specials take the largest mantissas; stay clear of them.
  const std::int64_t max_m = is_short ? 2045 : 8388605;
  const int min_e = is_short ? -8 : -128;
  const int max_e = is_short ? 7 : 127;
  // The largest exponent that still represents the value exactly (36.4 → 364 × 10^-1, as a
  // device would send it); failing that, the smallest that fits (the most precise).
  std::optional<std::pair<int, std::int64_t>> exact;
  std::optional<std::pair<int, std::int64_t>> first_fit;
  for (int e = min_e; e <= max_e; ++e) {
    const double magnitude = std::pow(10.0, static_cast<double>(std::abs(e)));
    const double m = std::round(e >= 0 ? v / magnitude : v * magnitude);
    if (std::abs(m) > static_cast<double>(max_m)) continue;
    const auto mantissa = static_cast<std::int64_t>(m);
    if (!first_fit) first_fit.emplace(e, mantissa);
    const double back = e >= 0 ? m * magnitude : m / magnitude;
    if (std::abs(back - v) <= std::abs(v) * 1e-12) exact.emplace(e, mantissa);
    if (v == 0.0) break;
  }
  if (const auto chosen = exact ? exact : first_fit) {
    const auto [e, mantissa] = *chosen;
    const unsigned ebits = is_short ? 4 : 8;
    const auto exponent_bits = static_cast<std::uint64_t>(e) & ((std::uint64_t{1} << ebits) - 1);
    const auto mantissa_bits =
        static_cast<std::uint64_t>(mantissa) & ((std::uint64_t{1} << mbits) - 1);
    return {write_unsigned(exponent_bits << mbits | mantissa_bits, width, c.endian), {}};
  }
  return fail("value out of range for " + type_text(c.type));
}

}  // namespace

Encoded encode(const FieldCodec& c, const nlohmann::json& value) {
  const auto width = type_width(c.type);
  switch (c.type) {
    case ValueType::hex: {
      if (!value.is_string()) return fail("expected a hex string such as \"0a1b\"");
      auto b = from_hex(value.get<std::string>());
      if (!b || b->empty()) return fail("expected a hex string such as \"0a1b\"");
      if (c.length != 0 && b->size() != c.length) {
        return fail("expected " + std::to_string(c.length) + " byte(s), got " +
                    std::to_string(b->size()));
      }
      return {std::move(*b), {}};
    }
    case ValueType::sfloat:
      return encode_11073(c, value, true);
    case ValueType::float11:
      return encode_11073(c, value, false);
    case ValueType::float32: {
      if (!value.is_number()) return fail("expected a number for float32");
      const double d = (value.get<double>() - c.value_offset) / c.scale;
      if (!(std::abs(d) <= std::numeric_limits<float>::max())) {
        return fail(nlohmann::json(value.get<double>()).dump() + " is out of range for float32");
      }
      const auto f = static_cast<float>(d);
      return {write_unsigned(std::bit_cast<std::uint32_t>(f), 4, c.endian), {}};
    }
    default:
      break;
  }
  if (value.is_boolean() && !c.scaled()) {
    return {write_unsigned(value.get<bool>() ? 1 : 0, width, c.endian), {}};
  }
  if (!value.is_number()) return fail("expected a number for " + type_text(c.type));
  const double raw = std::round((value.get<double>() - c.value_offset) / c.scale);
  const bool is_signed =
      c.type == ValueType::int8 || c.type == ValueType::int16 || c.type == ValueType::int32;
  const auto bits = static_cast<int>(width * 8);
  const double lo = is_signed ? -std::ldexp(1.0, bits - 1) : 0.0;
  const double hi = is_signed ? std::ldexp(1.0, bits - 1) - 1 : std::ldexp(1.0, bits) - 1;
  if (!(raw >= lo && raw <= hi)) {
    return fail(nlohmann::json(value.get<double>()).dump() + " is out of range for " +
                type_text(c.type) + (c.scaled() ? " after scaling" : ""));
  }
  const auto as_int = static_cast<std::int64_t>(raw);
  return {write_unsigned(static_cast<std::uint64_t>(as_int), width, c.endian), {}};
}

std::string to_hex(const Bytes& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

std::optional<Bytes> from_hex(std::string_view text) {
  if (text.starts_with("0x") || text.starts_with("0X")) text.remove_prefix(2);
  Bytes out;
  int high = -1;
  for (char ch : text) {
    if (ch == ' ' || ch == ':' || ch == '-') {
      if (high >= 0) return std::nullopt;  // a separator inside a byte
      continue;
    }
    int d = -1;
    if (ch >= '0' && ch <= '9') d = ch - '0';
    if (ch >= 'a' && ch <= 'f') d = ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') d = ch - 'A' + 10;
    if (d < 0) return std::nullopt;
    if (high < 0) {
      high = d;
    } else {
      out.push_back(static_cast<std::uint8_t>(high << 4 | d));
      high = -1;
    }
  }
  if (high >= 0) return std::nullopt;
  return out;
}

}  // namespace fieldlink::ble
