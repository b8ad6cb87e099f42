#include "config/loader.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "config/schema.hpp"
#include "config/yaml_tree.hpp"

namespace fieldlink::config {
namespace {

namespace fs = std::filesystem;
using Kind = ConfigNode::Kind;

constexpr std::string_view kConfD = "conf.d";

std::vector<std::string> conf_d_files(const std::string& main) {
  std::vector<std::string> files;
  std::error_code ec;
  const auto dir = fs::path(main).parent_path() / kConfD;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".yaml" && entry.is_regular_file(ec)) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string unknown_key_message(std::string_view key, const std::vector<std::string>& valid) {
  std::string msg = "unknown key '" + std::string(key) + "'";
  std::string best;
  size_t best_distance = 3;  // suggest only close misspellings
  for (const auto& v : valid) {
    if (const auto d = edit_distance(key, v); d < best_distance) {
      best_distance = d;
      best = v;
    }
  }
  if (!best.empty()) msg += " (did you mean '" + best + "'?)";
  msg += "; valid keys: ";
  for (size_t i = 0; i < valid.size(); ++i)
    msg += (i ? ", " : "") + valid[i];
  return msg;
}

std::string got(const ConfigNode& n) {
  return std::string("got ") + ConfigNode::kind_name(n.kind);
}

// Device ids as IoT Hub accepts them: up to 128 ASCII letters, digits and -.%_*?!(),:=@$'
bool valid_hub_id(std::string_view id) {
  constexpr std::string_view kExtra = "-.%_*?!(),:=@$'";
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kExtra.find(c) != std::string_view::npos;
  });
}

// Adapter names become the second part of source addresses (modbus://<adapter>/<unit>).
bool valid_adapter_name(std::string_view n) {
  return !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

std::string expected(const std::string& type) {
  if (type.starts_with("one of")) return "expected " + type;
  const bool vowel = std::string_view("aeiou").find(type.front()) != std::string_view::npos;
  return std::string("expected ") + (vowel ? "an " : "a ") + type + " value";
}

class Validator {
 public:
  Validator(const AdapterRegistry& adapters, Diagnostics& diagnostics)
      : adapters_(adapters), diag_(diagnostics) {}

  Config run(const ConfigNode& root);

 private:
  template <class Root>
  void apply_defaults(const std::vector<Field<Root>>& fields, Root& root);
  template <class Root>
  void assign(const Field<Root>& field, const ConfigNode& node, const std::string& path,
              Root& root);
  template <class Root>
  void fill_map(const ConfigNode& map, std::string_view prefix, const std::string& path,
                const std::vector<Field<Root>>& fields, Root& root);
  void identities(const ConfigNode& list, Config& config);
  void check_identity(const ConfigNode& item, const std::string& path, IdentityBinding& id);
  void adapter_list(const ConfigNode& list, Config& config);
  void cross_checks(const ConfigNode& root, Config& config);

  const AdapterRegistry& adapters_;
  Diagnostics& diag_;
  std::map<std::string, Location> set_at_;  // where each key path was set, for cross-checks
};

template <class Root>
void Validator::apply_defaults(const std::vector<Field<Root>>& fields, Root& root) {
  for (const auto& f : fields) {
    if (!f.default_text) continue;
    // Defaults go through the same parser as operator input; a bad default is a bug caught by the
    // schema's unit test, not something to hide.
    const auto why = f.assign(*f.default_text, ParseContext{}, root);
    if (!why.empty()) diag_.add({"<built-in default>", 0, 0}, f.key, why);
  }
}

template <class Root>
void Validator::assign(const Field<Root>& field, const ConfigNode& node, const std::string& path,
                       Root& root) {
  if (node.kind != Kind::scalar) {
    diag_.add(node.where, path, expected(field.type) + ", " + got(node));
    return;
  }
  const ParseContext ctx{fs::path(node.where.file).parent_path().string()};
  if (auto why = field.assign(node.scalar, ctx, root); !why.empty()) {
    diag_.add(node.where, path, why);
    return;
  }
  set_at_[path] = node.where;
}

template <class Root>
void Validator::fill_map(const ConfigNode& map, std::string_view prefix, const std::string& path,
                         const std::vector<Field<Root>>& fields, Root& root) {
  std::vector<const Field<Root>*> own;
  std::vector<std::string> names;
  for (const auto& f : fields) {
    if (f.key.starts_with(prefix) && f.key.find('.', prefix.size()) == std::string::npos) {
      own.push_back(&f);
      names.push_back(f.key.substr(prefix.size()));
    }
  }
  std::set<std::string_view> present;
  for (size_t i = 0; i < map.entries.size(); ++i) {
    const auto& [key, value] = map.entries[i];
    const auto child = path.empty() ? key : path + "." + key;
    const auto it = std::find(names.begin(), names.end(), key);
    if (it == names.end()) {
      diag_.add(map.key_locations[i], child, unknown_key_message(key, names));
      continue;
    }
    present.insert(*it);
    assign(*own[static_cast<size_t>(it - names.begin())], value, child, root);
  }
  for (size_t i = 0; i < own.size(); ++i) {
    if (!own[i]->default_text && !present.contains(names[i])) {
      diag_.add(map.where, path, "missing required key '" + names[i] + "' (" + own[i]->type + ")");
    }
  }
}

Config Validator::run(const ConfigNode& root) {
  Config config;
  apply_defaults(config_fields(), config);
  if (root.kind == Kind::null) return config;
  if (root.kind != Kind::map) {
    diag_.add(root.where, "", "expected a mapping of sections (gateway, hub, …), " + got(root));
    return config;
  }
  static const std::vector<std::string> kSections{
      "gateway", "log", "hub", "store", "status", "identities", "unknown_sources", "adapters"};
  for (size_t i = 0; i < root.entries.size(); ++i) {
    const auto& [key, value] = root.entries[i];
    if (key == "identities") {
      identities(value, config);
    } else if (key == "adapters") {
      adapter_list(value, config);
    } else if (key == "unknown_sources") {
      const auto& fields = config_fields();
      assign(*std::find_if(fields.begin(), fields.end(),
                           [](const auto& f) { return f.key == "unknown_sources"; }),
             value, key, config);
    } else if (std::find(kSections.begin(), kSections.end(), key) != kSections.end()) {
      if (value.kind == Kind::null) continue;  // `hub:` with nothing under it keeps the defaults
      if (value.kind != Kind::map) {
        diag_.add(value.where, key, "expected a mapping of keys, " + got(value));
        continue;
      }
      fill_map(value, key + ".", key, config_fields(), config);
    } else {
      diag_.add(root.key_locations[i], key, unknown_key_message(key, kSections));
    }
  }
  cross_checks(root, config);
  return config;
}

void Validator::identities(const ConfigNode& list, Config& config) {
  if (list.kind == Kind::null) return;
  if (list.kind != Kind::sequence) {
    diag_.add(list.where, "identities", "expected a list of bindings, " + got(list));
    return;
  }
  std::map<std::string, Location> sources;
  std::map<std::string, Location> clients;
  for (size_t i = 0; i < list.items.size(); ++i) {
    const auto& item = list.items[i];
    const auto path = "identities[" + std::to_string(i) + "]";
    if (item.kind != Kind::map) {
      diag_.add(item.where, path, "expected a mapping with source and device_id, " + got(item));
      continue;
    }
    IdentityBinding id;
    id.where = item.where;
    apply_defaults(identity_fields(), id);
    const auto before = diag_.size();
    fill_map(item, "", path, identity_fields(), id);
    if (diag_.size() != before) continue;
    check_identity(item, path, id);
    const auto* src = item.find("source");
    if (auto [it, fresh] = sources.emplace(id.source, src->where); !fresh) {
      diag_.add(src->where, path + ".source",
                "source '" + id.source + "' is already bound at " + it->second.file + ":" +
                    std::to_string(it->second.line));
    }
    const auto client = id.module_id.empty() ? id.device_id : id.device_id + "/" + id.module_id;
    const auto* dev = item.find("device_id");
    if (auto [it, fresh] = clients.emplace(client, dev->where); !fresh) {
      diag_.add(dev->where, path + ".device_id",
                "identity '" + client + "' is already bound at " + it->second.file + ":" +
                    std::to_string(it->second.line));
    }
    config.identities.push_back(std::move(id));
  }
}

void Validator::check_identity(const ConfigNode& item, const std::string& path,
                               IdentityBinding& id) {
  const auto* src = item.find("source");
  const auto parsed = SourceAddress::parse(id.source);
  size_t wildcards = 0;
  if (!parsed) {
    diag_.add(src->where, path + ".source",
              "expected a source address like modbus://<adapter>/<unit> or mqtt://<adapter>/+, "
              "got '" +
                  id.source + "'");
  } else {
    std::string_view key = parsed->device_key();
    while (!key.empty()) {
      const auto level = key.substr(0, key.find('/'));
      if (level == "+") ++wildcards;
      key.remove_prefix(std::min(key.size(), level.size() + 1));
    }
  }
  // A wildcard binding names its device ids with {1}, {2}, … for the matched levels.
  std::string literal;
  const auto* dev = item.find("device_id");
  for (size_t i = 0; i < id.device_id.size(); ++i) {
    if (id.device_id[i] == '{') {
      const auto close = id.device_id.find('}', i);
      const auto n =
          close == std::string::npos ? std::string{} : id.device_id.substr(i + 1, close - i - 1);
      if (n.size() != 1 || n[0] < '1' || n[0] > '9' ||
          static_cast<size_t>(n[0] - '0') > wildcards) {
        diag_.add(dev->where, path + ".device_id",
                  "'{" + n + "}' does not name one of the source's " + std::to_string(wildcards) +
                      " '+' levels");
        return;
      }
      literal += "x";
      i = close;
    } else {
      literal += id.device_id[i];
    }
  }
  if (!valid_hub_id(literal)) {
    diag_.add(
        dev->where, path + ".device_id",
        "'" + id.device_id +
            "' is not a valid IoT Hub device id (up to 128 of: letters, digits, -.%_*?!(),:=@$')");
  }
  const bool sas = !id.key_file.path.empty() && id.cert_file.path.empty();
  const bool x509 = !id.key_file.path.empty() && !id.cert_file.path.empty();
  const bool group = !id.group_key_file.path.empty();
  if (static_cast<int>(sas) + static_cast<int>(x509) + static_cast<int>(group) != 1) {
    diag_.add(item.where, path,
              "needs exactly one credential: key_file (SAS key), cert_file with key_file (X.509), "
              "or group_key_file (derived keys)");
  }
  if (!id.cert_file.path.empty() && !fs::is_regular_file(id.cert_file.path)) {
    diag_.add(item.find("cert_file")->where, path + ".cert_file",
              "cannot use certificate file " + id.cert_file.path + ": no such file");
  }
}

void Validator::adapter_list(const ConfigNode& list, Config& config) {
  if (list.kind == Kind::null) return;
  if (list.kind != Kind::sequence) {
    diag_.add(list.where, "adapters", "expected a list of adapters, " + got(list));
    return;
  }
  std::map<std::string, Location> names;
  for (size_t i = 0; i < list.items.size(); ++i) {
    const auto& item = list.items[i];
    const auto path = "adapters[" + std::to_string(i) + "]";
    if (item.kind != Kind::map) {
      diag_.add(item.where, path, "expected a mapping with name and type, " + got(item));
      continue;
    }
    const auto* name = item.find("name");
    const auto* type = item.find("type");
    if (name == nullptr || type == nullptr) {
      diag_.add(item.where, path,
                std::string("missing required key '") + (name ? "type" : "name") + "'");
      continue;
    }
    if (name->kind != Kind::scalar || !valid_adapter_name(name->scalar)) {
      diag_.add(name->where, path + ".name",
                "expected a name of letters, digits, '-', '_' or '.', e.g. boiler-line");
      continue;
    }
    if (auto [it, fresh] = names.emplace(name->scalar, name->where); !fresh) {
      diag_.add(name->where, path + ".name",
                "adapter name '" + name->scalar + "' is already used at " + it->second.file + ":" +
                    std::to_string(it->second.line));
      continue;
    }
    const auto* kind = type->kind == Kind::scalar ? adapters_.find(type->scalar) : nullptr;
    if (kind == nullptr) {
      diag_.add(type->where, path + ".type",
                "adapter type '" + type->scalar +
                    "' is not built into this fieldlinkd (built-in types: " +
                    adapters_.type_list() + ")");
      continue;
    }
    auto settings = kind->parse(item, path, diag_);
    if (settings) {
      config.adapters.push_back(
          {AdapterName(name->scalar), type->scalar, std::move(settings), item.where});
    }
  }
}

void Validator::cross_checks(const ConfigNode& root, Config& config) {
  if (!config.identities.empty() && config.hub.host.empty()) {
    const auto* ids = root.find("identities");
    diag_.add(ids->where, "hub.host",
              "identities are bound but hub.host is not set; set it to your IoT Hub's host name");
  }
  if (!config.hub.host.empty() && !fs::is_regular_file(config.hub.ca_file.path)) {
    const auto it = set_at_.find("hub.ca_file");
    const auto where = it != set_at_.end() ? it->second : set_at_.at("hub.host");
    diag_.add(
        where, "hub.ca_file",
        "cannot use CA file " + config.hub.ca_file.path +
            (fs::exists(config.hub.ca_file.path) ? ": not a regular file" : ": no such file"));
  }
  if (config.unknown_sources == UnknownSources::gateway && config.gateway.identity.empty()) {
    diag_.add(set_at_.at("unknown_sources"), "unknown_sources",
              "'gateway' needs gateway.identity, the identity to send unknown sources on");
  }
}

}  // namespace

LoadResult load_config(const std::string& path, const AdapterRegistry& adapters) {
  LoadResult result;
  auto root = read_yaml_file(path, result.diagnostics);
  std::vector<std::string> files{path};
  for (auto& extra : conf_d_files(path)) {
    auto overlay = read_yaml_file(extra, result.diagnostics);
    if (overlay.kind != Kind::null && overlay.kind != Kind::map) {
      result.diagnostics.add(overlay.where, "", "expected a mapping of sections, " + got(overlay));
      continue;
    }
    merge_into(root, std::move(overlay));
    files.push_back(std::move(extra));
  }
  if (!result.diagnostics.empty()) return result;

  Validator validator(adapters, result.diagnostics);
  auto config = validator.run(root);
  if (!result.diagnostics.empty()) return result;
  config.files = std::move(files);
  result.config = std::make_shared<const Config>(std::move(config));
  return result;
}

}  // namespace fieldlink::config
