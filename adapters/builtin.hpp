#pragma once
// The adapter types built into this fieldlinkd, in one explicit list (design.md §9), and the one
// way an adapter folder makes its entry for that list.
#include <memory>
#include <string>
#include <utility>

#include "core/adapter_registry.hpp"

namespace fieldlink {

AdapterRegistry builtin_adapters();

// An AdapterType from an adapter's typed parts: `parse` returns its own settings type S, and
// `create(context, settings)` makes the adapter from them. The registry hands settings around
// as AdapterSettings; the cast back to S is made here once, not in each adapter.
template <class S, class Create>
AdapterType adapter_type(std::string type, std::string description,
                         std::shared_ptr<const S> (*parse)(const ConfigNode&, const std::string&,
                                                           Diagnostics&),
                         Create create, std::string (*reference)()) {
  AdapterType t;
  t.type = std::move(type);
  t.description = std::move(description);
  t.parse = [parse](const ConfigNode& node, const std::string& path,
                    Diagnostics& diagnostics) -> std::shared_ptr<const AdapterSettings> {
    return parse(node, path, diagnostics);
  };
  t.create = [create](AdapterContext context,
                      std::shared_ptr<const AdapterSettings> settings) -> std::unique_ptr<Adapter> {
    return create(std::move(context), std::dynamic_pointer_cast<const S>(settings));
  };
  t.reference = reference;
  return t;
}

}  // namespace fieldlink
