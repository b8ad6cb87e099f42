#pragma once
// A configuration document as a plain tree whose every node remembers the file, line and column it
// came from. The config part builds it from YAML (merging conf.d files, which yaml-cpp's own nodes
// cannot do without losing the file name); adapters validate their sections from it.
#include <string>
#include <utility>
#include <vector>

#include "core/diagnostics.hpp"

namespace fieldlink {

struct ConfigNode {
  enum class Kind { null, scalar, map, sequence };

  // Declared here and defaulted in the .cpp: `entries` holds pairs of this very type, and clang
  // with libstdc++ cannot decide whether an implicit constructor is usable while that pair is
  // still incomplete (gcc can); a declared one needs no such look inside.
  ConfigNode();

  Kind kind = Kind::null;
  Location where;
  std::string scalar;
  bool quoted = false;  // a quoted scalar is always a string, never a number or flag
  std::vector<std::pair<std::string, ConfigNode>> entries;  // map, in file order
  std::vector<Location> key_locations;                      // parallel to entries
  std::vector<ConfigNode> items;                            // sequence

  const ConfigNode* find(std::string_view key) const {
    for (const auto& [k, v] : entries) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  static const char* kind_name(Kind k);
};

}  // namespace fieldlink
