#pragma once
// Every configuration key declared once: name, type, default, range, description. The same table
// drives parsing, validation, defaults, --check-config and the generated reference
// (`fieldlinkd --print-schema`), so documentation cannot drift from behaviour.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/value_types.hpp"

namespace fieldlink::config {

struct ParseContext {
  std::string base_dir;  // relative file paths are resolved against the config file's folder
};

template <class Root>
struct Field {
  std::string key;                          // "hub.token_ttl"; for list items, relative to the item
  std::string type;                         // "duration", "one of: normal, full", ...
  std::optional<std::string> default_text;  // nullopt: the operator must set it
  std::string range;                        // "5s .. 30d", or empty
  std::string description;
  // Parses `text`, checks the range and stores the value in `root`; returns why not, or "".
  std::function<std::string(std::string_view text, const ParseContext&, Root&)> assign;
};

// The scalar keys of the sections gateway, log, hub, store, status and of `unknown_sources`.
const std::vector<Field<Config>>& config_fields();
// The keys of one `identities[]` entry.
const std::vector<Field<IdentityBinding>>& identity_fields();

// Markdown reference of every key, generated from the tables.
std::string schema_reference();

}  // namespace fieldlink::config
