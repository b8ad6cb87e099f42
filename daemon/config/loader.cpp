#include "config/loader.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "config/map_reader.hpp"
#include "config/schema.hpp"
#include "config/yaml_tree.hpp"

namespace fieldlink::config {
namespace {

namespace fs = std::filesystem;
using Kind = ConfigNode::Kind;

constexpr std::string_view kConfD = "conf.d";

std::vector<std::string> yaml_files_in(const fs::path& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".yaml" && entry.is_regular_file(ec)) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> conf_d_files(const std::string& main) {
  return yaml_files_in(fs::path(main).parent_path() / kConfD);
}

// Appends the bindings of one identities.d file to the document's `identities:` list.
void merge_identity_file(ConfigNode& root, ConfigNode list, Diagnostics& diagnostics) {
  if (list.kind == Kind::null) return;  // an empty file binds nothing
  if (list.kind != Kind::sequence) {
    diagnostics.add(list.where, "identities",
                    "an identities.d file is a list of bindings (- source: …, device_id: …), " +
                        got_text(list));
    return;
  }
  ConfigNode overlay;
  overlay.kind = Kind::map;
  overlay.where = list.where;
  overlay.key_locations.push_back(list.where);
  overlay.entries.emplace_back("identities", std::move(list));
  merge_into(root, std::move(overlay));
}

// Adapter names become the second part of source addresses (modbus://<adapter>/<unit>).
bool valid_adapter_name(std::string_view n) {
  return !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

// Keys, values and nesting of a node, without positions or comments.
void canonical(const ConfigNode& n, std::string& out) {
  switch (n.kind) {
    case Kind::null:
      out += "~";
      break;
    case Kind::scalar:
      out += std::to_string(n.scalar.size()) + ":" + n.scalar;
      break;
    case Kind::sequence:
      out += "[";
      for (const auto& item : n.items)
        canonical(item, out);
      out += "]";
      break;
    case Kind::map:
      out += "{";
      for (const auto& [k, v] : n.entries) {
        out += std::to_string(k.size()) + ":" + k + "=";
        canonical(v, out);
      }
      out += "}";
      break;
  }
}

class Validator {
 public:
  Validator(const AdapterRegistry& adapters, Diagnostics& diagnostics)
      : adapters_(adapters), diag_(diagnostics) {}

  Config run(const ConfigNode& root);

 private:
  void identities(const ConfigNode& list, Config& config);
  void check_identity(const ConfigNode& item, const std::string& path, IdentityBinding& id);
  void adapter_list(const ConfigNode& list, Config& config);
  void cross_checks(const ConfigNode& root, Config& config);

  const AdapterRegistry& adapters_;
  Diagnostics& diag_;
  SetAt set_at_;  // where each key path was set, for cross-checks
};

Config Validator::run(const ConfigNode& root) {
  Config config;
  apply_defaults(config_fields(), config, diag_);
  if (root.kind == Kind::null) return config;
  if (root.kind != Kind::map) {
    diag_.add(root.where, "",
              "expected a mapping of sections (gateway, hub, …), " + got_text(root));
    return config;
  }
  static const std::vector<std::string> kSections{
      "gateway",         "log",     "hub", "store", "status", "control", "identities",
      "unknown_sources", "adapters"};
  for (size_t i = 0; i < root.entries.size(); ++i) {
    const auto& [key, value] = root.entries[i];
    if (key == "identities") {
      identities(value, config);
    } else if (key == "adapters") {
      adapter_list(value, config);
    } else if (key == "unknown_sources") {
      const auto& fields = config_fields();
      const auto& field = *std::find_if(fields.begin(), fields.end(),
                                        [](const auto& f) { return f.key == "unknown_sources"; });
      if (assign_field(field, value, key, config, diag_)) set_at_[key] = value.where;
    } else if (std::find(kSections.begin(), kSections.end(), key) != kSections.end()) {
      if (value.kind == Kind::null) continue;  // `hub:` with nothing under it keeps the defaults
      if (value.kind != Kind::map) {
        diag_.add(value.where, key, "expected a mapping of keys, " + got_text(value));
        continue;
      }
      read_map(value, key + ".", key, config_fields(), config, diag_, {}, &set_at_);
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
    diag_.add(list.where, "identities", "expected a list of bindings, " + got_text(list));
    return;
  }
  std::map<std::string, Location> sources;
  std::map<std::string, Location> clients;
  for (size_t i = 0; i < list.items.size(); ++i) {
    const auto& item = list.items[i];
    const auto path = "identities[" + std::to_string(i) + "]";
    if (item.kind != Kind::map) {
      diag_.add(item.where, path,
                "expected a mapping with source and device_id, " + got_text(item));
      continue;
    }
    IdentityBinding id;
    id.where = item.where;
    apply_defaults(identity_fields(), id, diag_);
    const auto before = diag_.size();
    read_map(item, "", path, identity_fields(), id, diag_);
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
    diag_.add(list.where, "adapters", "expected a list of adapters, " + got_text(list));
    return;
  }
  std::map<std::string, Location> names;
  for (size_t i = 0; i < list.items.size(); ++i) {
    const auto& item = list.items[i];
    const auto path = "adapters[" + std::to_string(i) + "]";
    if (item.kind != Kind::map) {
      diag_.add(item.where, path, "expected a mapping with name and type, " + got_text(item));
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
      std::string fingerprint;
      canonical(item, fingerprint);
      config.adapters.push_back({AdapterName(name->scalar), type->scalar, std::move(settings),
                                 item.where, std::move(fingerprint)});
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

bool valid_hub_id(std::string_view id) {
  constexpr std::string_view kExtra = "-.%_*?!(),:=@$'";
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kExtra.find(c) != std::string_view::npos;
  });
}

std::vector<std::string> identity_d_files(const std::string& main_path) {
  return yaml_files_in(fs::path(main_path).parent_path() / kIdentitiesD);
}

LoadResult load_config(const std::string& path, const AdapterRegistry& adapters,
                       const LoadOptions& options) {
  LoadResult result;
  auto root = read_yaml_file(path, result.diagnostics);
  std::vector<std::string> files{path};
  for (auto& extra : conf_d_files(path)) {
    auto overlay = read_yaml_file(extra, result.diagnostics);
    if (overlay.kind != Kind::null && overlay.kind != Kind::map) {
      result.diagnostics.add(overlay.where, "",
                             "expected a mapping of sections, " + got_text(overlay));
      continue;
    }
    merge_into(root, std::move(overlay));
    files.push_back(std::move(extra));
  }
  for (auto& extra : options.identity_files ? *options.identity_files : identity_d_files(path)) {
    merge_identity_file(root, read_yaml_file(extra, result.diagnostics), result.diagnostics);
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
