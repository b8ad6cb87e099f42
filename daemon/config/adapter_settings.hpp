#pragma once
// What every adapter type's settings parser shares: the frame of `parse_<type>_settings` (name,
// all diagnostics collected, nullptr on any), the header of its key reference, and small checks
// on one `adapters[]` entry. Start-up only; no state.
#include <memory>
#include <string>
#include <string_view>

#include "core/adapter_registry.hpp"
#include "core/config_node.hpp"
#include "core/diagnostics.hpp"

namespace fieldlink::config {

// Builds `Settings` from one `adapters[]` entry: takes its name, lets `read(settings)` add every
// mistake to `diagnostics`, and returns nullptr if it added any. The result is immutable.
template <class Settings, class Read>
std::shared_ptr<const Settings> parse_adapter(const ConfigNode& node, Diagnostics& diagnostics,
                                              Read&& read) {
  auto settings = std::make_shared<Settings>();
  if (const auto* n = node.find("name")) settings->name = AdapterName(n->scalar);
  const auto before = diagnostics.size();
  read(*settings);
  if (diagnostics.size() != before) return nullptr;
  return settings;
}

// The header row of a key reference table; rows come from reference_rows.
std::string reference_header();

// Where `key` is set in `item`, or the item itself when it is not.
Location where_of(const ConfigNode& item, std::string_view key);

// A name an operator gives a value or point (it becomes a JSON key): letters, digits, _ and -,
// plus any of `also`.
bool valid_value_name(std::string_view name, std::string_view also = "");

}  // namespace fieldlink::config
