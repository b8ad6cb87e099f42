#pragma once
// The validated settings of one `modbus-tcp` or `modbus-rtu` adapter: its link, its timing and
// the register maps of its devices. Built only by parse_modbus_settings, which reports every
// mistake with its file:line:column and returns nullptr then. Immutable and shared afterwards.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "adapters/modbus/register_map.hpp"
#include "core/adapter_registry.hpp"

namespace fieldlink::modbus {

enum class Transport { tcp, rtu };
enum class Parity { none, even, odd };

struct ModbusSettings final : AdapterSettings {
  Transport transport = Transport::tcp;
  // modbus-tcp
  std::string host;
  std::int64_t tcp_port = 502;
  // modbus-rtu
  std::string serial_port;  // e.g. /dev/serial/by-id/usb-FTDI_…; may be absent until plugged in
  std::int64_t baud = 19200;
  Parity parity = Parity::even;
  std::int64_t data_bits = 8;
  std::int64_t stop_bits = 1;
  bool rs485 = false;
  std::chrono::milliseconds turnaround_delay{0};  // silence kept between requests on the line
  // both
  std::chrono::milliseconds response_timeout{1000};
  std::chrono::milliseconds byte_timeout{500};
  std::chrono::milliseconds backoff_max{60000};  // ceiling of unit probing and reconnect backoff
  std::int64_t offline_after = 2;                // consecutive unanswered polls before backing off
  std::vector<DeviceMap> devices;

  std::string endpoint() const;  // "10.0.4.20:502" or the serial port
};

std::shared_ptr<const ModbusSettings> parse_modbus_settings(Transport transport,
                                                            const ConfigNode& node,
                                                            const std::string& path,
                                                            Diagnostics& diagnostics);

// The key reference of both adapter types, as schema.cpp's reference table does for the daemon.
std::string modbus_schema_reference(Transport transport);

}  // namespace fieldlink::modbus
