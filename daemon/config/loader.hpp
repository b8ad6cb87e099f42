#pragma once
// Loads the configuration: the main file, then `conf.d/*.yaml` beside it in name order, validated
// against the schema table and the built-in adapter types. Every problem is collected; a config
// comes back only when there are none.
// Thread: any; touches only the files it reads.
#include <memory>
#include <string>

#include "config/config.hpp"
#include "core/adapter_registry.hpp"
#include "core/diagnostics.hpp"

namespace fieldlink::config {

struct LoadResult {
  std::shared_ptr<const Config> config;  // null when diagnostics is not empty
  Diagnostics diagnostics;
};

LoadResult load_config(const std::string& path, const AdapterRegistry& adapters);

}  // namespace fieldlink::config
