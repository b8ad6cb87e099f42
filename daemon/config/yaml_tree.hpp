#pragma once
// YAML text → ConfigNode, keeping each node's file:line:column, and the conf.d merge.
#include <string>

#include "core/config_node.hpp"
#include "core/diagnostics.hpp"

namespace fieldlink::config {

// Reads one YAML file. On a syntax error or an unreadable file, adds a diagnostic and returns a
// null node. Duplicate keys in one mapping are reported (YAML forbids them; yaml-cpp keeps both).
ConfigNode read_yaml_file(const std::string& path, Diagnostics& diagnostics);

// Merges `overlay` (a later file) into `base`: mappings merge key by key, lists are appended
// (so a conf.d file can add an adapter or an identity), single values are replaced.
void merge_into(ConfigNode& base, ConfigNode overlay);

}  // namespace fieldlink::config
