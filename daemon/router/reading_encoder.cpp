#include "router/reading_encoder.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/utc_time.hpp"

namespace fieldlink {
namespace {

const char* quality_name(Quality q) {
  switch (q) {
    case Quality::good:
      return "good";
    case Quality::uncertain:
      return "uncertain";
    case Quality::bad:
      return "bad";
  }
  return "?";
}

nlohmann::json json_of(const Value& value) {
  return std::visit(
      [](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        // JSON has no NaN or infinity; a sensor's NaN is "no value", not a string.
        if constexpr (std::is_same_v<T, double>) {
          return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
        } else {
          return nlohmann::json(v);
        }
      },
      value);
}

// encode_reading runs once per reading on the hot path, so it writes the JSON text straight
// into one string instead of building an nlohmann tree (a node and a key per value, then a
// dump). Its output is the text nlohmann::json::dump gave for the same document: keys in
// byte order, a repeated name keeps its last value, strings escaped alike, numbers in the same
// form (tests/unit/reading_encoder_test.cpp holds the old encoder as the reference).

void put_string(std::string& out, std::string_view s) {
  // Non-ASCII text needs UTF-8 validation and nlohmann's replacement of invalid sequences; it is
  // rare in names and values, so it takes nlohmann's own escaping.
  for (const char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return;
    }
  }
  out += '"';
  // Characters that need no escape go in runs, not one by one.
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20) continue;
    out.append(s.substr(run, i - run));
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        const char esc[] = {'\\', 'u', '0', '0', kHex[(c >> 4) & 0xF], kHex[c & 0xF]};
        out.append(esc, sizeof esc);
      }
    }
  }
  out.append(s.substr(run));
  out += '"';
}

template <class Int>
void put_integer(std::string& out, Int v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// nlohmann's layout of a finite double: the shortest digits that read back as the same value,
// plain decimal with at least one fractional digit while the decimal point falls within
// (-4, 15] digits of the first one, else d.ddde±XX.
void put_double(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  if (std::signbit(v)) {
    out += '-';
    v = -v;
  }
  if (v == 0) {
    out += "0.0";
    return;
  }
  char sci[32];
  const auto r = std::to_chars(sci, sci + sizeof sci, v, std::chars_format::scientific);
  // "d[.ddd]e±XX": collect the digits and the exponent.
  char digits[24];
  int k = 0;
  const char* p = sci;
  for (; p != r.ptr && *p != 'e'; ++p) {
    if (*p != '.') digits[k++] = *p;
  }
  int exponent = 0;
  std::from_chars(p + 1 + (p[1] == '+' ? 1 : 0), r.ptr, exponent);
  const int n = exponent + 1;  // where the decimal point falls, counted from the first digit
  constexpr int kMinExp = -4;
  constexpr int kMaxExp = 15;
  if (k <= n && n <= kMaxExp) {
    out.append(digits, static_cast<std::size_t>(k));
    out.append(static_cast<std::size_t>(n - k), '0');
    out += ".0";
  } else if (0 < n && n <= kMaxExp) {
    out.append(digits, static_cast<std::size_t>(n));
    out += '.';
    out.append(digits + n, static_cast<std::size_t>(k - n));
  } else if (kMinExp < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out.append(digits, static_cast<std::size_t>(k));
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out.append(digits + 1, static_cast<std::size_t>(k - 1));
    }
    const int e = n - 1;
    out += e < 0 ? "e-" : "e+";
    const int a = e < 0 ? -e : e;
    if (a < 10) out += '0';
    put_integer(out, a);
  }
}

void put_value(std::string& out, const Value& value) {
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          out += v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          put_double(out, v);  // NaN and infinity become null, as json_of does
        } else if constexpr (std::is_same_v<T, std::string>) {
          put_string(out, v);
        } else {
          put_integer(out, v);
        }
      },
      value);
}

using NamedValue = std::pair<std::string, Value>;

void put_values(std::string& out, const std::vector<NamedValue>& values) {
  // Readings rarely carry more than a few dozen values: order them on the stack.
  constexpr std::size_t kOnStack = 64;
  std::array<const NamedValue*, kOnStack> local{};
  std::vector<const NamedValue*> heap;
  const NamedValue** order = local.data();
  if (values.size() > kOnStack) {
    heap.resize(values.size());
    order = heap.data();
  }
  for (std::size_t i = 0; i < values.size(); ++i)
    order[i] = &values[i];
  const auto end = order + values.size();
  // Stable, so among equal names the last one given stays last, and it is the one kept.
  std::stable_sort(order, end,
                   [](const NamedValue* a, const NamedValue* b) { return a->first < b->first; });
  out += '{';
  bool first = true;
  for (auto it = order; it != end; ++it) {
    if (it + 1 != end && (*(it + 1))->first == (*it)->first) continue;
    if (!first) out += ',';
    first = false;
    put_string(out, (*it)->first);
    out += ':';
    put_value(out, (*it)->second);
  }
  out += '}';
}

}  // namespace

std::string encode_reported(const Reading& reading) {
  nlohmann::json patch = nlohmann::json::object();
  for (const auto& [name, value] : reading.values) {
    nlohmann::json* at = &patch;
    std::string_view rest = name;
    for (auto dot = rest.find('.'); dot != std::string_view::npos; dot = rest.find('.')) {
      at = &(*at)[std::string(rest.substr(0, dot))];
      if (!at->is_object()) *at = nlohmann::json::object();
      rest.remove_prefix(dot + 1);
    }
    (*at)[std::string(rest)] = json_of(value);
  }
  return patch.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string encode_reading(const Reading& reading) {
  const std::string& source = reading.source.str();
  std::string out;
  std::size_t guess = 80 + source.size();
  for (const auto& [name, value] : reading.values) {
    guess += name.size() + 24;
    if (const auto* s = std::get_if<std::string>(&value)) guess += s->size();
  }
  out.reserve(guess);
  // The keys in byte order, as nlohmann's object (a std::map) wrote them.
  out += "{\"quality\":\"";
  out += quality_name(reading.quality);
  out += "\",\"source\":";
  put_string(out, source);
  out += ",\"ts\":\"";
  out += utc_iso8601(reading.sampled_at);
  out += "\",\"values\":";
  put_values(out, reading.values);
  out += '}';
  return out;
}

}  // namespace fieldlink
