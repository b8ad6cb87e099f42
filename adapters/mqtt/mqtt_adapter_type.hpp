#pragma once
// `type: mqtt` for the registry in adapters/builtin.cpp.
#include "core/adapter_registry.hpp"

namespace fieldlink::mqtt {

AdapterType mqtt_adapter_type();

}  // namespace fieldlink::mqtt
