#include "adapters/mqtt/payload_decoder.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

namespace fieldlink::mqtt {
namespace {

using nlohmann::json;

constexpr size_t kMaxDepth = 16;

bool to_value(const json& j, Value& out) {
  switch (j.type()) {
    case json::value_t::boolean:
      out = j.get<bool>();
      return true;
    case json::value_t::number_integer:
      out = j.get<std::int64_t>();
      return true;
    case json::value_t::number_unsigned: {
      const auto u = j.get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        out = static_cast<std::int64_t>(u);
      } else {
        out = u;
      }
      return true;
    }
    case json::value_t::number_float:
      out = j.get<double>();
      return true;
    case json::value_t::string:
      out = j.get<std::string>();
      return true;
    case json::value_t::array:
      out = j.dump();
      return true;
    default:
      return false;  // null, object (handled by flatten), binary, discarded
  }
}

void flatten(const json& object, const std::string& prefix, size_t depth,
             std::vector<std::pair<std::string, Value>>& out, const std::string& skip) {
  for (const auto& [key, item] : object.items()) {
    auto name = prefix.empty() ? key : prefix + "." + key;
    if (name == skip) continue;
    if (item.is_object()) {
      if (depth < kMaxDepth) flatten(item, name, depth + 1, out, skip);
      continue;
    }
    Value v;
    if (to_value(item, v)) out.emplace_back(std::move(name), std::move(v));
  }
}

const json* find_path(const json& root, std::string_view path) {
  const json* at = &root;
  size_t start = 0;
  while (true) {
    const auto dot = path.find('.', start);
    const auto key =
        std::string(path.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (!at->is_object()) return nullptr;
    const auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
    if (dot == std::string_view::npos) return at;
    start = dot + 1;
  }
}

DecodedPayload decode_json(const TopicRoute& route, std::string_view payload) {
  DecodedPayload out;
  // No exceptions on bad input: an invalid payload is an expected, counted event.
  const auto doc = json::parse(payload.begin(), payload.end(), nullptr, false);
  if (doc.is_discarded()) {
    out.error = "not valid JSON";
    return out;
  }
  if (!doc.is_object()) {
    out.error = std::string("expected a JSON object, got ") + doc.type_name();
    return out;
  }
  if (!route.device_field.empty()) {
    const auto* key = find_path(doc, route.device_field);
    if (key == nullptr) {
      out.error = "no device field '" + route.device_field + "'";
      return out;
    }
    if (key->is_string()) {
      out.device_key = key->get<std::string>();
    } else if (key->is_number_integer()) {
      out.device_key = key->dump();
    } else {
      out.error = "device field '" + route.device_field + "' is not a string or integer";
      return out;
    }
    if (!valid_device_key(out.device_key)) {
      out.error = "device field '" + route.device_field + "' is not a valid device key";
      return out;
    }
  }
  if (route.fields.empty()) {
    flatten(doc, "", 0, out.values, route.device_field);
  } else {
    for (const auto& f : route.fields) {
      const auto* item = find_path(doc, f.path);
      if (item == nullptr) continue;  // a device may send only some fields each time
      if (item->is_object()) {
        flatten(*item, f.name, 1, out.values, {});
        continue;
      }
      Value v;
      if (to_value(*item, v)) out.values.emplace_back(f.name, std::move(v));
    }
  }
  if (out.values.empty()) {
    out.error = route.fields.empty() ? "the JSON object has no values"
                                     : "none of the mapped fields is present";
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

DecodedPayload decode_value(const TopicRoute& route, std::string_view payload) {
  DecodedPayload out;
  const auto name = route.value_name.empty() ? std::string("value") : route.value_name;
  const auto text = trim(payload);
  if (text.empty()) {
    out.error = "empty payload";
    return out;
  }
  if (!valid_utf8(text)) {
    out.error = "not UTF-8 text (use format: raw for binary payloads)";
    return out;
  }
  if (text == "true" || text == "false") {
    out.values.emplace_back(name, text == "true");
    return out;
  }
  std::int64_t i = 0;
  if (auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
      ec == std::errc{} && p == text.data() + text.size()) {
    out.values.emplace_back(name, i);
    return out;
  }
  double d = 0;
  if (auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
      ec == std::errc{} && p == text.data() + text.size() && std::isfinite(d)) {
    out.values.emplace_back(name, d);
    return out;
  }
  out.values.emplace_back(name, std::string(text));
  return out;
}

}  // namespace

DecodedPayload decode_json_object(std::string_view payload) {
  return decode_json(TopicRoute{}, payload);
}

DecodedPayload decode_payload(const TopicRoute& route, std::string_view payload) {
  switch (route.format) {
    case PayloadFormat::json:
      return decode_json(route, payload);
    case PayloadFormat::value:
      return decode_value(route, payload);
    case PayloadFormat::raw: {
      DecodedPayload out;
      out.values.emplace_back(route.value_name.empty() ? std::string("raw") : route.value_name,
                              base64_encode(payload));
      return out;
    }
  }
  return DecodedPayload{{}, {}, "unknown format"};
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16) |
                   (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                   static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (const auto rest = bytes.size() - i; rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t len = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > text.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace fieldlink::mqtt
