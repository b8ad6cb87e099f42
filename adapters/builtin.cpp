#include "adapters/builtin.hpp"

#include "adapters/mqtt/mqtt_adapter_type.hpp"

namespace fieldlink {

AdapterRegistry builtin_adapters() {
  // Each protocol adapter adds its AdapterType here when it is built (modbus-tcp, modbus-rtu,
  // ble, serial, mqtt); until then its `type:` is reported as not built in, never ignored.
  return AdapterRegistry({mqtt::mqtt_adapter_type()});
}

}  // namespace fieldlink
