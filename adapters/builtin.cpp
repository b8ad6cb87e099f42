#include "adapters/builtin.hpp"

#include "adapters/ble/ble_adapter.hpp"
#include "adapters/modbus/modbus_adapter.hpp"
#include "adapters/mqtt/mqtt_adapter_type.hpp"
#include "adapters/serial/serial_adapter.hpp"

namespace fieldlink {

AdapterRegistry builtin_adapters() {
  // Each protocol adapter adds its AdapterType here when it is built; a `type:` not listed is
  // reported as not built in, never ignored.
  return AdapterRegistry({
      ble::ble_type(),
      modbus::modbus_tcp_type(),
      modbus::modbus_rtu_type(),
      mqtt::mqtt_adapter_type(),
      serial::serial_type(),
  });
}

}  // namespace fieldlink
