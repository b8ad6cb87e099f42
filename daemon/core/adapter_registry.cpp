#include "core/adapter_registry.hpp"

namespace fieldlink {

const AdapterType* AdapterRegistry::find(std::string_view type) const {
  for (const auto& t : types_) {
    if (t.type == type) return &t;
  }
  return nullptr;
}

std::string AdapterRegistry::type_list() const {
  if (types_.empty()) return "none";
  std::string out;
  for (const auto& t : types_) {
    if (!out.empty()) out += ", ";
    out += t.type;
  }
  return out;
}

}  // namespace fieldlink
