#include "adapters/serial/frame_parser.hpp"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>

#include <nlohmann/json.hpp>

#include "adapters/serial/escaped_bytes.hpp"

namespace fieldlink::serial {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

template <class T>
std::optional<T> number(std::string_view text) {
  text = trim(text);
  // Devices print "+0012.34"; from_chars takes no '+'.
  if (text.starts_with('+')) text.remove_prefix(1);
  if (text.empty() || text.starts_with('+')) return std::nullopt;
  if constexpr (std::is_unsigned_v<T>) {
    if (text.starts_with('-')) return std::nullopt;
  }
  T v{};
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

std::uint64_t raw_bytes(std::string_view frame, std::size_t offset, std::size_t size,
                        ByteOrder order) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < size; ++i) {
    const auto b =
        static_cast<std::uint8_t>(frame[offset + (order == ByteOrder::big ? i : size - 1 - i)]);
    v = (v << 8) | b;
  }
  return v;
}

Value decode(std::uint64_t raw, BinaryType type, double scale) {
  double as_double = 0;
  std::optional<std::int64_t> as_int;
  std::optional<std::uint64_t> as_uint;
  switch (type) {
    case BinaryType::uint8:
    case BinaryType::uint16:
    case BinaryType::uint32:
      as_int = static_cast<std::int64_t>(raw);
      break;
    case BinaryType::int8:
      as_int = static_cast<std::int8_t>(raw);
      break;
    case BinaryType::int16:
      as_int = static_cast<std::int16_t>(raw);
      break;
    case BinaryType::int32:
      as_int = static_cast<std::int32_t>(raw);
      break;
    case BinaryType::int64:
      as_int = static_cast<std::int64_t>(raw);
      break;
    case BinaryType::uint64:
      as_uint = raw;
      break;
    case BinaryType::float32:
      as_double = std::bit_cast<float>(static_cast<std::uint32_t>(raw));
      break;
    case BinaryType::float64:
      as_double = std::bit_cast<double>(raw);
      break;
  }
  if (scale == 1.0) {
    if (as_int) return *as_int;
    if (as_uint) return *as_uint;
    return as_double;
  }
  if (as_int) return static_cast<double>(*as_int) * scale;
  if (as_uint) return static_cast<double>(*as_uint) * scale;
  return as_double * scale;
}

void flatten(const nlohmann::json& j, const std::string& prefix,
             std::vector<std::pair<std::string, Value>>& out) {
  for (const auto& [k, v] : j.items()) {
    const auto name = prefix.empty() ? k : prefix + "." + k;
    switch (v.type()) {
      case nlohmann::json::value_t::object:
        flatten(v, name, out);
        break;
      case nlohmann::json::value_t::boolean:
        out.emplace_back(name, v.get<bool>());
        break;
      case nlohmann::json::value_t::number_integer:
        out.emplace_back(name, v.get<std::int64_t>());
        break;
      case nlohmann::json::value_t::number_unsigned: {
        const auto u = v.get<std::uint64_t>();
        out.emplace_back(name, u <= static_cast<std::uint64_t>(INT64_MAX)
                                   ? Value(static_cast<std::int64_t>(u))
                                   : Value(u));
        break;
      }
      case nlohmann::json::value_t::number_float:
        out.emplace_back(name, v.get<double>());
        break;
      case nlohmann::json::value_t::string:
        out.emplace_back(name, v.get<std::string>());
        break;
      case nlohmann::json::value_t::array:
        out.emplace_back(name, v.dump());
        break;
      default:
        break;  // null: no value
    }
  }
}

std::string value_text(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return x;
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          if (std::floor(x) == x && std::abs(x) < 1e15)
            return std::to_string(static_cast<std::int64_t>(x));
          return std::to_string(x);
        } else {
          return std::to_string(x);
        }
      },
      v);
}

}  // namespace

std::optional<Value> convert_text(std::string_view text, FieldType type) {
  switch (type) {
    case FieldType::string:
      return Value(utf8_or_escaped(text));
    case FieldType::int64:
      if (auto v = number<std::int64_t>(text)) return Value(*v);
      return std::nullopt;
    case FieldType::uint64:
      if (auto v = number<std::uint64_t>(text)) return Value(*v);
      return std::nullopt;
    case FieldType::float64:
      if (auto v = number<double>(text); v && std::isfinite(*v)) return Value(*v);
      return std::nullopt;
    case FieldType::boolean: {
      const auto t = trim(text);
      if (t == "true" || t == "1" || t == "on" || t == "yes") return Value(true);
      if (t == "false" || t == "0" || t == "off" || t == "no") return Value(false);
      return std::nullopt;
    }
  }
  return std::nullopt;
}

FrameParser::FrameParser(const ParseSettings& settings) : settings_(settings) {
  if (settings_.kind == ParseKind::regex) {
    std::string why;
    regex_ = NamedRegex::compile(settings_.pattern, why);  // validated at config time
  }
}

ParseResult FrameParser::parse(std::string_view frame) const {
  switch (settings_.kind) {
    case ParseKind::regex:
      return regex(frame);
    case ParseKind::csv:
      return csv(frame);
    case ParseKind::json:
      return json(frame);
    case ParseKind::kv:
      return kv(frame);
    case ParseKind::binary:
      return binary(frame);
  }
  return ParseResult::fail(ParseResult::Fault::parse, "unknown parse kind");
}

ParseResult FrameParser::with_address(ParsedFrame frame) const {
  if (settings_.address.empty()) return {std::move(frame), ParseResult::Fault::none, {}};
  for (auto it = frame.values.begin(); it != frame.values.end(); ++it) {
    if (it->first != settings_.address) continue;
    frame.address = value_text(it->second);
    frame.values.erase(it);
    if (frame.address.empty() ||
        frame.address.find_first_of(std::string_view(" \t\r\n/\0", 6)) != std::string::npos) {
      return ParseResult::fail(ParseResult::Fault::parse, "address field '" + settings_.address +
                                                              "' is not a usable address: '" +
                                                              printable_bytes(frame.address) + "'");
    }
    return {std::move(frame), ParseResult::Fault::none, {}};
  }
  return ParseResult::fail(ParseResult::Fault::parse,
                           "the frame has no address field '" + settings_.address + "'");
}

ParseResult FrameParser::typed(std::vector<std::pair<std::string, std::string>> fields) const {
  ParsedFrame out;
  out.values.reserve(fields.size());
  for (auto& [name, text] : fields) {
    const auto t = settings_.types.find(name);
    const auto type = t == settings_.types.end() ? FieldType::string : t->second;
    auto v = convert_text(text, type);
    if (!v) {
      return ParseResult::fail(ParseResult::Fault::parse,
                               "field '" + name + "': '" + printable_bytes(text) + "' is not a " +
                                   std::string(type == FieldType::boolean  ? "bool"
                                               : type == FieldType::int64  ? "int64"
                                               : type == FieldType::uint64 ? "uint64"
                                                                           : "float64"));
    }
    out.values.emplace_back(std::move(name), std::move(*v));
  }
  return with_address(std::move(out));
}

ParseResult FrameParser::regex(std::string_view frame) const {
  std::vector<std::pair<std::string, std::string>> groups;
  if (!regex_ || !regex_->search(frame, &groups)) {
    return ParseResult::fail(ParseResult::Fault::parse,
                             "does not match the pattern: '" + printable_bytes(frame) + "'");
  }
  return typed(std::move(groups));
}

ParseResult FrameParser::csv(std::string_view frame) const {
  std::vector<std::string_view> cells;
  for (;;) {
    const auto at = frame.find(settings_.separator);
    cells.push_back(frame.substr(0, at));
    if (at == std::string_view::npos) break;
    frame.remove_prefix(at + settings_.separator.size());
  }
  if (cells.size() != settings_.columns.size()) {
    return ParseResult::fail(ParseResult::Fault::parse,
                             std::to_string(cells.size()) + " columns, expected " +
                                 std::to_string(settings_.columns.size()));
  }
  std::vector<std::pair<std::string, std::string>> fields;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const auto& name = settings_.columns[i];
    if (name.empty() || name == "_") continue;
    fields.emplace_back(name, std::string(trim(cells[i])));
  }
  return typed(std::move(fields));
}

ParseResult FrameParser::json(std::string_view frame) const {
  const auto j = nlohmann::json::parse(frame.begin(), frame.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return ParseResult::fail(
        ParseResult::Fault::parse,
        j.is_discarded() ? "not JSON: '" + printable_bytes(frame) + "'" : "JSON but not an object");
  }
  ParsedFrame out;
  flatten(j, "", out.values);
  return with_address(std::move(out));
}

ParseResult FrameParser::kv(std::string_view frame) const {
  std::vector<std::pair<std::string, std::string>> fields;
  for (;;) {
    const auto at = frame.find(settings_.separator);
    const auto pair = trim(frame.substr(0, at));
    if (!pair.empty()) {
      const auto eq = pair.find(settings_.assign);
      if (eq == std::string_view::npos || eq == 0) {
        return ParseResult::fail(
            ParseResult::Fault::parse,
            "'" + printable_bytes(pair) + "' is not key" + settings_.assign + "value");
      }
      fields.emplace_back(std::string(trim(pair.substr(0, eq))),
                          std::string(trim(pair.substr(eq + settings_.assign.size()))));
    }
    if (at == std::string_view::npos) break;
    frame.remove_prefix(at + settings_.separator.size());
  }
  if (fields.empty()) return ParseResult::fail(ParseResult::Fault::parse, "no key=value pairs");
  return typed(std::move(fields));
}

ParseResult FrameParser::binary(std::string_view frame) const {
  const auto width = checksum_width(settings_.checksum);
  if (width > 0) {
    const auto from = static_cast<std::size_t>(settings_.checksum_from);
    if (frame.size() < from + width) {
      return ParseResult::fail(
          ParseResult::Fault::checksum,
          "frame of " + std::to_string(frame.size()) + " bytes is too short for its checksum");
    }
    const auto expected =
        checksum(settings_.checksum, frame.substr(from, frame.size() - width - from));
    const auto stored = static_cast<std::uint16_t>(
        raw_bytes(frame, frame.size() - width, width, settings_.checksum_order));
    if (expected != stored) {
      char text[64];
      std::snprintf(text, sizeof text, "checksum 0x%0*X, computed 0x%0*X",
                    static_cast<int>(width * 2), stored, static_cast<int>(width * 2), expected);
      return ParseResult::fail(ParseResult::Fault::checksum, text);
    }
  }
  ParsedFrame out;
  out.values.reserve(settings_.fields.size());
  for (const auto& f : settings_.fields) {
    const auto size = binary_size(f.type);
    if (f.offset + size > frame.size() - width) {
      return ParseResult::fail(ParseResult::Fault::parse,
                               "frame of " + std::to_string(frame.size()) +
                                   " bytes has no field '" + f.name + "' at offset " +
                                   std::to_string(f.offset));
    }
    out.values.emplace_back(f.name,
                            decode(raw_bytes(frame, f.offset, size, f.order), f.type, f.scale));
  }
  return with_address(std::move(out));
}

}  // namespace fieldlink::serial
