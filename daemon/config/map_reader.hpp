#pragma once
// Reads one YAML mapping into a typed struct by its schema table: known keys are parsed and
// range-checked, unknown keys are reported with the valid ones (and a "did you mean"), required
// keys that are missing are reported at the mapping. Every problem goes into Diagnostics.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/field.hpp"
#include "core/config_node.hpp"
#include "core/diagnostics.hpp"

namespace fieldlink::config {

// Where each key path was set; for checks that involve several keys.
using SetAt = std::map<std::string, Location>;

std::string unknown_key_message(std::string_view key, const std::vector<std::string>& valid);
// "expected a duration value" / "expected one of: a, b"
std::string expected_text(const std::string& type);
// "got a list"
std::string got_text(const ConfigNode& node);

template <class Root>
void apply_defaults(const std::vector<Field<Root>>& fields, Root& root, Diagnostics& diagnostics) {
  for (const auto& f : fields) {
    if (!f.default_text) continue;
    // Defaults go through the same parser as operator input; a bad default is a bug that the
    // schema unit tests catch, never something to hide.
    if (auto why = f.assign(*f.default_text, ParseContext{}, root); !why.empty()) {
      diagnostics.add({"<built-in default>", 0, 0}, f.key, why);
    }
  }
}

// Parses one scalar node into its field; false (with a diagnostic) when it is not valid.
template <class Root>
bool assign_field(const Field<Root>& field, const ConfigNode& node, const std::string& path,
                  Root& root, Diagnostics& diagnostics) {
  if (node.kind != ConfigNode::Kind::scalar) {
    diagnostics.add(node.where, path, expected_text(field.type) + ", " + got_text(node));
    return false;
  }
  const ParseContext ctx{std::filesystem::path(node.where.file).parent_path().string()};
  if (auto why = field.assign(node.scalar, ctx, root); !why.empty()) {
    diagnostics.add(node.where, path, why);
    return false;
  }
  return true;
}

// Reads the keys of `map` whose table key is `prefix` + name (prefix "hub." for a section, ""
// for a list item). `other_keys` are handled by the caller (nested lists such as `devices`) and
// are neither read nor reported as unknown.
template <class Root>
void read_map(const ConfigNode& map, std::string_view prefix, const std::string& path,
              const std::vector<Field<Root>>& fields, Root& root, Diagnostics& diagnostics,
              const std::vector<std::string>& other_keys = {}, SetAt* set_at = nullptr) {
  std::vector<const Field<Root>*> own;
  std::vector<std::string> names;
  for (const auto& f : fields) {
    if (f.key.starts_with(prefix) && f.key.find('.', prefix.size()) == std::string::npos) {
      own.push_back(&f);
      names.push_back(f.key.substr(prefix.size()));
    }
  }
  std::set<std::string> present;
  for (size_t i = 0; i < map.entries.size(); ++i) {
    const auto& [name, value] = map.entries[i];
    const auto child = path.empty() ? name : path + "." + name;
    if (std::find(other_keys.begin(), other_keys.end(), name) != other_keys.end()) continue;
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
      auto valid = names;
      valid.insert(valid.end(), other_keys.begin(), other_keys.end());
      diagnostics.add(map.key_locations[i], child, unknown_key_message(name, valid));
      continue;
    }
    present.insert(name);
    if (assign_field(*own[static_cast<size_t>(it - names.begin())], value, child, root,
                     diagnostics) &&
        set_at != nullptr) {
      (*set_at)[child] = value.where;
    }
  }
  for (size_t i = 0; i < own.size(); ++i) {
    if (!own[i]->default_text && !present.contains(names[i])) {
      diagnostics.add(map.where, path,
                      "missing required key '" + names[i] + "' (" + own[i]->type + ")");
    }
  }
}

}  // namespace fieldlink::config
