#include "config/adapter_settings.hpp"

#include <algorithm>

namespace fieldlink::config {

std::string reference_header() {
  return "| key | type | default | range | description |\n|---|---|---|---|---|\n";
}

Location where_of(const ConfigNode& item, std::string_view key) {
  const auto* n = item.find(key);
  return n ? n->where : item.where;
}

bool valid_value_name(std::string_view name, std::string_view also) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [also](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || also.find(c) != std::string_view::npos;
  });
}

}  // namespace fieldlink::config
