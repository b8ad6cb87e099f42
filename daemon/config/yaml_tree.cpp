#include "config/yaml_tree.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace fieldlink::config {
namespace {

Location at(const std::string& file, const YAML::Mark& m) {
  return {file, m.line + 1, m.column + 1};
}

ConfigNode convert(const YAML::Node& n, const std::string& file, const std::string& path,
                   Diagnostics& diagnostics) {
  ConfigNode out;
  out.where = at(file, n.Mark());
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out.kind = ConfigNode::Kind::null;
      break;
    case YAML::NodeType::Scalar:
      out.kind = ConfigNode::Kind::scalar;
      out.scalar = n.Scalar();
      out.quoted = n.Tag() == "!";
      break;
    case YAML::NodeType::Sequence: {
      out.kind = ConfigNode::Kind::sequence;
      size_t i = 0;
      for (const auto& item : n) {
        out.items.push_back(
            convert(item, file, path + "[" + std::to_string(i++) + "]", diagnostics));
      }
      break;
    }
    case YAML::NodeType::Map:
      out.kind = ConfigNode::Kind::map;
      for (const auto& kv : n) {
        const auto key_where = at(file, kv.first.Mark());
        if (!kv.first.IsScalar()) {
          diagnostics.add(key_where, path, "a key must be a plain name");
          continue;
        }
        const auto& key = kv.first.Scalar();
        const auto child_path = path.empty() ? key : path + "." + key;
        const auto seen = std::find_if(out.entries.begin(), out.entries.end(),
                                       [&key](const auto& e) { return e.first == key; });
        if (seen != out.entries.end()) {
          const auto& first = out.key_locations[static_cast<size_t>(seen - out.entries.begin())];
          diagnostics.add(key_where, child_path,
                          "duplicate key; first set at line " + std::to_string(first.line));
          continue;
        }
        out.entries.emplace_back(key, convert(kv.second, file, child_path, diagnostics));
        out.key_locations.push_back(key_where);
      }
      break;
  }
  return out;
}

}  // namespace

ConfigNode read_yaml_file(const std::string& path, Diagnostics& diagnostics) {
  std::ifstream in(path);
  if (!in) {
    diagnostics.add({path, 0, 0}, "", "cannot open the file");
    return {};
  }
  std::stringstream text;
  text << in.rdbuf();
  try {
    const auto root = YAML::Load(text.str());
    auto node = convert(root, path, "", diagnostics);
    if (node.kind == ConfigNode::Kind::null) node.where = {path, 1, 1};
    return node;
  } catch (const YAML::Exception& e) {
    diagnostics.add(at(path, e.mark), "", "YAML syntax error: " + e.msg);
    return {};
  }
}

void merge_into(ConfigNode& base, ConfigNode overlay) {
  using Kind = ConfigNode::Kind;
  if (base.kind == Kind::map && overlay.kind == Kind::map) {
    for (size_t i = 0; i < overlay.entries.size(); ++i) {
      auto& [key, value] = overlay.entries[i];
      bool merged = false;
      for (auto& [bk, bv] : base.entries) {
        if (bk == key) {
          merge_into(bv, std::move(value));
          merged = true;
          break;
        }
      }
      if (!merged) {
        base.entries.emplace_back(key, std::move(value));
        base.key_locations.push_back(overlay.key_locations[i]);
      }
    }
    return;
  }
  if (base.kind == Kind::sequence && overlay.kind == Kind::sequence) {
    for (auto& item : overlay.items)
      base.items.push_back(std::move(item));
    return;
  }
  if (overlay.kind == Kind::null) return;  // an empty conf.d file changes nothing
  base = std::move(overlay);
}

}  // namespace fieldlink::config
