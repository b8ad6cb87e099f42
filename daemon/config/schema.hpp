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
#include "config/field.hpp"

namespace fieldlink::config {

// The scalar keys of the sections gateway, log, hub, store, status and of `unknown_sources`.
const std::vector<Field<Config>>& config_fields();
// The keys of one `identities[]` entry.
const std::vector<Field<IdentityBinding>>& identity_fields();

// Markdown reference of every key, generated from the tables.
std::string schema_reference();

}  // namespace fieldlink::config
