#pragma once
// Loads the configuration: the main file, then `conf.d/*.yaml` beside it in name order, then
// `identities.d/*.yaml` beside it in name order, validated against the schema table and the
// built-in adapter types. Every problem is collected; a config comes back only when there are none.
//
// An identities.d file is a YAML list of bindings, each entry exactly as under `identities:`; its
// entries are appended to `identities`. A list (not a map with `identities:`) so that a file can
// hold nothing else: one binding per file is what `fieldlinkctl identity add` writes, and an
// operator can drop in a file per site or per device family without touching the main file.
// Thread: any; touches only the files it reads.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "core/adapter_registry.hpp"
#include "core/diagnostics.hpp"

namespace fieldlink::config {

struct LoadResult {
  std::shared_ptr<const Config> config;  // null when diagnostics is not empty
  Diagnostics diagnostics;
};

struct LoadOptions {
  // Replaces the identities.d listing (for a tool that checks a staged edit before committing
  // it); unset means the `*.yaml` files found beside `path`.
  std::optional<std::vector<std::string>> identity_files;
};

LoadResult load_config(const std::string& path, const AdapterRegistry& adapters,
                       const LoadOptions& options = {});

// The `identities.d/*.yaml` files beside the main config file, in load order.
std::vector<std::string> identity_d_files(const std::string& main_path);
inline constexpr std::string_view kIdentitiesD = "identities.d";

// Device and module ids as IoT Hub accepts them: up to 128 ASCII letters, digits and
// -.%_*?!(),:=@$'
bool valid_hub_id(std::string_view id);

}  // namespace fieldlink::config
