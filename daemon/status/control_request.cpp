#include "status/control_request.hpp"

#include <nlohmann/json.hpp>

#include "config/value_types.hpp"
#include "core/url_encoding.hpp"

namespace fieldlink {
namespace {

ParsedControlRequest refuse(int status, std::string error) {
  return {std::nullopt, {status, std::move(error)}};
}

std::vector<std::string_view> split(std::string_view text, char at) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto pos = text.find(at);
    parts.push_back(text.substr(0, pos));
    if (pos == std::string_view::npos) return parts;
    text.remove_prefix(pos + 1);
  }
}

// "10" (seconds) or a duration as in the config ("500ms", "2m").
std::optional<std::chrono::milliseconds> parse_timeout(std::string_view text, std::string& why) {
  std::string with_unit(text);
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos) {
    with_unit += "s";
  }
  const auto d = config::parse_duration(with_unit);
  if (!d.value) {
    why = "timeout '" + std::string(text) + "': " + d.error;
    return std::nullopt;
  }
  if (*d.value < kControlMinTimeout || *d.value > kControlMaxTimeout) {
    why = "timeout '" + std::string(text) + "' is outside 1s .. 300s";
    return std::nullopt;
  }
  return *d.value;
}

const char* const kUsage =
    "; the control socket answers POST /devices/{identity}/methods/{name} and "
    "POST /devices/{identity}/c2d";

}  // namespace

ParsedControlRequest parse_control_request(std::string_view verb, std::string_view target,
                                           std::string body) {
  const auto q = target.find('?');
  const auto path = target.substr(0, q);
  const auto query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  const auto segments = split(path, '/');
  // "", "devices", identity, "methods", name   or   "", "devices", identity, "c2d"
  const bool method_path = segments.size() == 5 && segments[3] == "methods";
  const bool c2d_path = segments.size() == 4 && segments[3] == "c2d";
  if (segments.size() < 2 || !segments[0].empty() || segments[1] != "devices" ||
      !(method_path || c2d_path)) {
    return refuse(404, "no such resource " + std::string(path) + kUsage);
  }
  if (verb != "POST") return refuse(405, "only POST" + std::string(kUsage));

  ControlRequest r;
  r.kind = method_path ? ControlRequest::Kind::method : ControlRequest::Kind::c2d;
  const auto identity = percent_decode(segments[2]);
  if (!identity || identity->empty()) return refuse(400, "the identity in the path is malformed");
  const auto slash = identity->find('/');
  r.device_id = identity->substr(0, slash);
  if (slash != std::string::npos) r.module_id = identity->substr(slash + 1);
  if (r.device_id.empty() || (slash != std::string::npos && r.module_id.empty()) ||
      r.module_id.find('/') != std::string::npos) {
    return refuse(400, "identity '" + *identity + "' is not DEVICE or DEVICE/MODULE");
  }
  if (method_path) {
    const auto name = percent_decode(segments[4]);
    if (!name || name->empty()) return refuse(400, "the method name in the path is malformed");
    r.name = *name;
  }

  for (const auto item : split(query, '&')) {
    if (item.empty()) continue;
    const auto eq = item.find('=');
    const auto key = item.substr(0, eq);
    const auto raw = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    const auto value = percent_decode(raw);
    if (!value) return refuse(400, "query parameter '" + std::string(key) + "' is malformed");
    if (key == "timeout" && method_path && !r.timeout) {
      std::string why;
      r.timeout = parse_timeout(*value, why);
      if (!r.timeout) return refuse(400, why);
    } else if (key == "property" && c2d_path) {
      const auto sep = value->find('=');
      if (sep == std::string::npos || sep == 0) {
        return refuse(400, "property '" + *value + "' is not KEY=VALUE");
      }
      r.properties.emplace_back(value->substr(0, sep), value->substr(sep + 1));
    } else {
      return refuse(400, "unexpected query parameter '" + std::string(key) + "'" +
                             (method_path ? " (methods take timeout)" : " (c2d takes property)"));
    }
  }

  if (method_path) {
    // The hub refuses a method payload that is not JSON, so refuse it here too, with the
    // parser's own words about where it broke.
    if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
      r.payload = "null";
    } else {
      try {
        r.payload = nlohmann::json::parse(body).dump();
      } catch (const nlohmann::json::parse_error& e) {
        return refuse(400, std::string("the payload is not JSON: ") + e.what());
      }
    }
  } else {
    r.payload = std::move(body);
  }
  return {std::move(r), {}};
}

}  // namespace fieldlink
