#include "identity-map/identity_map.hpp"

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/crypto.hpp"

namespace fieldlink {
namespace {

std::vector<std::string_view> levels(std::string_view s) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto slash = s.find('/');
    out.push_back(s.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    s.remove_prefix(slash + 1);
  }
}

// The key text of a key file: base64 on one line; surrounding whitespace is not part of it.
std::optional<std::string> read_key(const std::string& path, std::string& why) {
  std::ifstream in(path);
  if (!in) {
    why = "cannot read key file " + path;
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto key = text.str();
  const auto first = key.find_first_not_of(" \t\r\n");
  const auto last = key.find_last_not_of(" \t\r\n");
  key = first == std::string::npos ? std::string{} : key.substr(first, last - first + 1);
  if (!base64_decode(key) || key.empty()) {
    why = "key file " + path + " does not hold a base64 key";
    return std::nullopt;
  }
  return key;
}

std::string fill(const std::string& device_template, const std::vector<std::string>& matched) {
  std::string out;
  for (std::size_t i = 0; i < device_template.size(); ++i) {
    const auto close = device_template.find('}', i);
    if (device_template[i] == '{' && close == i + 2) {
      const auto n = static_cast<std::size_t>(device_template[i + 1] - '1');
      if (n < matched.size()) out += matched[n];
      i = close;
    } else {
      out += device_template[i];
    }
  }
  return out;
}

}  // namespace

std::string derive_device_key(std::string_view base64_group_key, std::string_view device_id) {
  // Validated when the map was built, so the group key decodes.
  return base64_encode(hmac_sha256(base64_decode(base64_group_key).value_or(""), device_id));
}

std::optional<std::vector<std::string>> match_source(std::string_view pattern,
                                                     std::string_view source) {
  const auto p = levels(pattern);
  const auto s = levels(source);
  if (p.size() != s.size()) return std::nullopt;
  std::vector<std::string> matched;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == "+") {
      if (s[i].empty()) return std::nullopt;
      matched.emplace_back(s[i]);
    } else if (p[i] != s[i]) {
      return std::nullopt;
    }
  }
  return matched;
}

std::shared_ptr<const IdentityMap> IdentityMap::build(
    const std::vector<config::IdentityBinding>& bindings, Diagnostics& diagnostics) {
  auto map = std::make_shared<IdentityMap>();
  const auto before = diagnostics.size();
  for (std::size_t i = 0; i < bindings.size(); ++i) {
    const auto& b = bindings[i];
    const auto path = "identities[" + std::to_string(i) + "]";
    Entry e;
    e.pattern = b.source;
    e.device_template = b.device_id;
    e.module_id = b.module_id;
    const auto source_levels = levels(b.source);
    e.wildcard = std::find(source_levels.begin(), source_levels.end(), "+") != source_levels.end();
    std::string why;
    if (!b.cert_file.path.empty()) {
      e.credential.cert_file = b.cert_file.path;
      e.credential.key_file = b.key_file.path;
    } else if (!b.group_key_file.path.empty()) {
      if (auto key = read_key(b.group_key_file.path, why)) {
        e.credential.sas_key = *key;
        e.derive = true;
      }
    } else if (auto key = read_key(b.key_file.path, why)) {
      e.credential.sas_key = *key;
    }
    if (!why.empty()) {
      diagnostics.add(b.where, path, why);
      continue;
    }
    map->entries_.push_back(std::move(e));
  }
  if (diagnostics.size() != before) return nullptr;
  return map;
}

std::optional<Binding> IdentityMap::resolve(const SourceAddress& source) const {
  const Entry* hit = nullptr;
  std::vector<std::string> matched;
  for (const auto& e : entries_) {
    if (!e.wildcard && e.pattern == source.str()) {
      hit = &e;
      break;
    }
  }
  if (hit == nullptr) {
    for (const auto& e : entries_) {
      if (!e.wildcard) continue;
      if (auto m = match_source(e.pattern, source.str())) {
        hit = &e;
        matched = std::move(*m);
        break;
      }
    }
  }
  if (hit == nullptr) return std::nullopt;
  Binding b{Identity{DeviceId(fill(hit->device_template, matched)), ModuleId(hit->module_id)},
            hit->credential};
  if (hit->derive) {
    b.credential.sas_key = derive_device_key(hit->credential.sas_key, b.identity.device.str());
  }
  return b;
}

std::optional<SourceAddress> IdentityMap::source_of(const Identity& identity) const {
  for (const auto& e : entries_) {
    if (e.module_id != identity.module.str()) continue;
    if (!e.wildcard) {
      if (e.device_template == identity.device.str()) return SourceAddress::parse(e.pattern);
      continue;
    }
    // Read the device id back through the template: each {n} becomes a capture.
    std::string re = "^";
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < e.device_template.size(); ++i) {
      const char c = e.device_template[i];
      if (c == '{' && i + 2 < e.device_template.size() && e.device_template[i + 2] == '}') {
        order.push_back(static_cast<std::size_t>(e.device_template[i + 1] - '1'));
        re += "([^/]+)";
        i += 2;
      } else {
        if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) re += '\\';
        re += c;
      }
    }
    std::smatch m;
    const auto& id = identity.device.str();
    if (!std::regex_match(id, m, std::regex(re + "$"))) continue;
    std::vector<std::string> matched(order.size());
    for (std::size_t k = 0; k < order.size(); ++k) {
      if (order[k] < matched.size()) matched[order[k]] = m[k + 1];
    }
    std::string source;
    std::size_t next = 0;
    for (const auto level : levels(e.pattern)) {
      if (!source.empty()) source += '/';
      source += level == "+" ? (next < matched.size() ? matched[next++] : std::string{})
                             : std::string(level);
    }
    // Patterns are written as scheme://adapter/..., which the level split keeps intact.
    if (auto parsed = SourceAddress::parse(source)) return parsed;
  }
  return std::nullopt;
}

std::vector<Binding> IdentityMap::fixed() const {
  std::vector<Binding> out;
  for (const auto& e : entries_) {
    if (!e.wildcard) {
      out.push_back({Identity{DeviceId(e.device_template), ModuleId(e.module_id)}, e.credential});
    }
  }
  return out;
}

}  // namespace fieldlink
