#pragma once
// A configuration is good only if its identities can be bound as well: the loader checks that
// key files exist and are private, while reading them (valid base64, derivable group keys) is
// what building the identity map does. Both, so `fieldlinkd --check-config`, `fieldlinkctl
// check-config` and a start give one verdict.
#include <string>

#include "config/loader.hpp"

namespace fieldlink {

config::LoadResult load_checked_config(const std::string& path, const AdapterRegistry& adapters,
                                       const config::LoadOptions& options = {});

}  // namespace fieldlink
