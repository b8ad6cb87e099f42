#include "adapters/modbus/register_codec.hpp"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace fieldlink::modbus {
namespace {

using Kind = PointType::Kind;

std::uint16_t swap_bytes(std::uint16_t w) {
  return static_cast<std::uint16_t>((w << 8) | (w >> 8));
}

// A float32 widened to the double the PLC meant: 0.1f is shown as 0.1, not 0.100000001490116.
double widen(float f) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f);
  double d = 0;
  if (ec != std::errc{} || std::from_chars(buf, end, d).ec != std::errc{}) return f;
  return d;
}

// raw * scale + offset, dividing by 1/scale when that is a whole number, so that a raw 3 with
// scale 0.1 gives 0.3 and not 0.30000000000000004.
double engineering(double raw, const Point& p) {
  const double inverse = 1.0 / p.scale;
  const double rounded = std::round(inverse);
  const double v = (p.scale < 1.0 && std::abs(inverse - rounded) < 1e-9 * inverse) ? raw / rounded
                                                                                   : raw * p.scale;
  return v + p.offset;
}

// The raw number to write for an engineering value; the inverse of `engineering`.
double raw_from(double v, const Point& p) {
  const double inverse = 1.0 / p.scale;
  const double rounded = std::round(inverse);
  const double shifted = v - p.offset;
  return (p.scale < 1.0 && std::abs(inverse - rounded) < 1e-9 * inverse) ? shifted * rounded
                                                                         : shifted / p.scale;
}

Value integer_value(const Point& p, std::int64_t raw) {
  if (p.scaled()) return engineering(static_cast<double>(raw), p);
  return raw;
}

std::string text_of(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return "\"" + *s + "\"";
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (const auto* u = std::get_if<std::uint64_t>(&v)) return std::to_string(*u);
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, std::get<double>(v));
  return ec == std::errc{} ? std::string(buf, end) : "?";
}

bool is_number(const Value& v) {
  return std::holds_alternative<std::int64_t>(v) || std::holds_alternative<std::uint64_t>(v) ||
         std::holds_alternative<double>(v);
}

double as_double(const Value& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* u = std::get_if<std::uint64_t>(&v)) return static_cast<double>(*u);
  return std::get<double>(v);
}

struct Limits {
  std::int64_t lo;
  std::uint64_t hi;
};

Limits limits_of(Kind k) {
  switch (k) {
    case Kind::int16:
      return {-32768, 32767};
    case Kind::uint16:
      return {0, 65535};
    case Kind::int32:
      return {std::numeric_limits<std::int32_t>::min(), 2147483647u};
    case Kind::uint32:
      return {0, 4294967295u};
    case Kind::int64:
      return {std::numeric_limits<std::int64_t>::min(),
              static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())};
    default:
      return {0, std::numeric_limits<std::uint64_t>::max()};
  }
}

// The whole raw number for an integer point, or why there is none.
std::string integer_raw(const Point& p, const Value& v, std::uint64_t& bits_out) {
  const auto lim = limits_of(p.type.kind);
  const auto range = " outside " + p.type.name() + " (" + std::to_string(lim.lo) + " .. " +
                     std::to_string(lim.hi) + ")";
  // Exact integers stay integers: a uint64 counter above 2^53 must not pass through a double.
  if (!p.scaled() && !std::holds_alternative<double>(v)) {
    if (const auto* i = std::get_if<std::int64_t>(&v)) {
      if (*i < lim.lo || (*i > 0 && static_cast<std::uint64_t>(*i) > lim.hi)) {
        return "value " + text_of(v) + " is" + range;
      }
      bits_out = static_cast<std::uint64_t>(*i);
      return {};
    }
    const auto u = std::get<std::uint64_t>(v);
    if (u > lim.hi) return "value " + text_of(v) + " is" + range;
    bits_out = u;
    return {};
  }
  const double raw = raw_from(as_double(v), p);
  const double whole = std::round(raw);
  if (!std::isfinite(raw) || std::abs(raw - whole) > 1e-9 * std::max(1.0, std::abs(raw))) {
    return p.scaled()
               ? "value " + text_of(v) + " is not a multiple of the point's scale " +
                     text_of(p.scale) + (p.offset != 0 ? " from its offset" : "")
               : "value " + text_of(v) + " is not a whole number, as " + p.type.name() + " needs";
  }
  // 2^63 and 2^64 are exact doubles, so these comparisons are exact too.
  if (whole < static_cast<double>(lim.lo) || whole >= std::ldexp(1.0, 64) ||
      (whole >= 0 && static_cast<std::uint64_t>(whole) > lim.hi)) {
    return "raw value " + text_of(whole) + " of " + text_of(v) + " is" + range;
  }
  bits_out = whole < 0 ? static_cast<std::uint64_t>(static_cast<std::int64_t>(whole))
                       : static_cast<std::uint64_t>(whole);
  return {};
}

}  // namespace

std::uint64_t words_to_integer(std::span<const std::uint16_t> words, WordOrder order) {
  std::uint64_t v = 0;
  const size_t n = words.size();
  for (size_t i = 0; i < n; ++i) {
    std::uint16_t w = words[swaps_words(order) ? n - 1 - i : i];
    if (swaps_bytes(order)) w = swap_bytes(w);
    v = (v << 16) | w;
  }
  return v;
}

void integer_to_words(std::uint64_t value, WordOrder order, std::span<std::uint16_t> words) {
  const size_t n = words.size();
  for (size_t i = 0; i < n; ++i) {
    // Word i (most significant first) before the order is applied.
    auto w = static_cast<std::uint16_t>(value >> (16 * (n - 1 - i)));
    if (swaps_bytes(order)) w = swap_bytes(w);
    words[swaps_words(order) ? n - 1 - i : i] = w;
  }
}

void decode_point(const Point& p, std::span<const std::uint16_t> words,
                  std::vector<std::pair<std::string, Value>>& out) {
  if (is_bit_table(p.table)) {
    out.emplace_back(p.name, words[0] != 0);
    return;
  }
  const auto raw = words_to_integer(words.first(static_cast<size_t>(p.type.registers())),
                                    p.type.kind == Kind::text ? WordOrder::abcd : p.order);
  switch (p.type.kind) {
    case Kind::boolean:
      out.emplace_back(p.name, words[0] != 0);
      return;
    case Kind::int16:
      out.emplace_back(p.name, integer_value(p, static_cast<std::int16_t>(raw)));
      return;
    case Kind::uint16:
      out.emplace_back(p.name, integer_value(p, static_cast<std::int64_t>(raw & 0xffff)));
      return;
    case Kind::int32:
      out.emplace_back(p.name, integer_value(p, static_cast<std::int32_t>(raw)));
      return;
    case Kind::uint32:
      out.emplace_back(p.name, integer_value(p, static_cast<std::int64_t>(raw & 0xffffffffu)));
      return;
    case Kind::int64:
      out.emplace_back(p.name, integer_value(p, static_cast<std::int64_t>(raw)));
      return;
    case Kind::uint64:
      if (p.scaled()) {
        out.emplace_back(p.name, engineering(static_cast<double>(raw), p));
      } else {
        out.emplace_back(p.name, raw);
      }
      return;
    case Kind::float32: {
      const double v = widen(std::bit_cast<float>(static_cast<std::uint32_t>(raw)));
      out.emplace_back(p.name, p.scaled() ? engineering(v, p) : v);
      return;
    }
    case Kind::float64: {
      const double v = std::bit_cast<double>(raw);
      out.emplace_back(p.name, p.scaled() ? v * p.scale + p.offset : v);
      return;
    }
    case Kind::text: {
      std::string s;
      for (int i = 0; i < p.type.length; ++i) {
        auto w = words[static_cast<size_t>(i / 2)];
        if (swaps_bytes(p.order)) w = swap_bytes(w);
        const char c = static_cast<char>(i % 2 == 0 ? w >> 8 : w & 0xff);
        if (c == '\0') break;  // devices pad with NUL
        s += c;
      }
      out.emplace_back(p.name, std::move(s));
      return;
    }
    case Kind::bits:
      for (int b = 0; b < 16; ++b) {
        out.emplace_back(p.name + "." + std::to_string(b), ((words[0] >> b) & 1u) != 0);
      }
      return;
  }
}

Encoded encode_point(const Point& p, const Value& v) {
  Encoded e;
  const auto refuse = [&e](std::string why) {
    e.error = std::move(why);
    return e;
  };
  if (p.type.kind == Kind::boolean || is_bit_table(p.table)) {
    bool flag = false;
    if (const auto* b = std::get_if<bool>(&v)) {
      flag = *b;
    } else if (is_number(v) && (as_double(v) == 0 || as_double(v) == 1)) {
      flag = as_double(v) == 1;
    } else {
      return refuse("point '" + p.name + "' is a bool; expected true, false, 0 or 1, got " +
                    text_of(v));
    }
    e.words.push_back(flag ? 1 : 0);
    return e;
  }
  if (p.type.kind == Kind::text) {
    const auto* s = std::get_if<std::string>(&v);
    if (s == nullptr) return refuse("point '" + p.name + "' is a string; got " + text_of(v));
    if (static_cast<int>(s->size()) > p.type.length) {
      return refuse("value " + text_of(v) + " is longer than " + p.type.name());
    }
    e.words.assign(static_cast<size_t>(p.type.registers()), 0);
    for (size_t i = 0; i < s->size(); ++i) {
      const auto byte = static_cast<std::uint8_t>((*s)[i]);
      e.words[i / 2] |= static_cast<std::uint16_t>(i % 2 == 0 ? byte << 8 : byte);
    }
    if (swaps_bytes(p.order)) {
      for (auto& w : e.words)
        w = swap_bytes(w);
    }
    return e;
  }
  if (p.type.kind == Kind::bits) return refuse("point '" + p.name + "' (bits) is read-only");
  if (!is_number(v)) {
    return refuse("point '" + p.name + "' is " + p.type.name() + "; expected a number, got " +
                  text_of(v));
  }
  const double eng = as_double(v);
  if ((p.min && eng < *p.min) || (p.max && eng > *p.max)) {
    return refuse("value " + text_of(v) + " is outside the point's range " +
                  (p.min ? text_of(*p.min) : std::string("-inf")) + " .. " +
                  (p.max ? text_of(*p.max) : std::string("inf")));
  }
  std::uint64_t raw = 0;
  if (p.type.kind == Kind::float32) {
    const double d = p.scaled() ? raw_from(eng, p) : eng;
    if (!std::isfinite(d) || std::abs(d) > std::numeric_limits<float>::max()) {
      return refuse("value " + text_of(v) + " does not fit a float32");
    }
    raw = std::bit_cast<std::uint32_t>(static_cast<float>(d));
  } else if (p.type.kind == Kind::float64) {
    raw = std::bit_cast<std::uint64_t>(p.scaled() ? (eng - p.offset) / p.scale : eng);
  } else if (auto why = integer_raw(p, v, raw); !why.empty()) {
    return refuse(why);
  }
  e.words.assign(static_cast<size_t>(p.type.registers()), 0);
  integer_to_words(raw, p.order, e.words);
  return e;
}

}  // namespace fieldlink::modbus
