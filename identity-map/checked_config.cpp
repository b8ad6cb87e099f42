#include "identity-map/checked_config.hpp"

#include "identity-map/identity_map.hpp"

namespace fieldlink {

config::LoadResult load_checked_config(const std::string& path, const AdapterRegistry& adapters,
                                       const config::LoadOptions& options) {
  auto loaded = config::load_config(path, adapters, options);
  if (loaded.config && !IdentityMap::build(loaded.config->identities, loaded.diagnostics)) {
    loaded.config.reset();
  }
  return loaded;
}

}  // namespace fieldlink
