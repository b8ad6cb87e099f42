#pragma once
// The validated settings of one `type: ble` adapter: the controller, connected GATT devices (by
// MAC, or a discovery rule that binds every matching device), and advertising sensors read
// without a connection. Built only by parse_ble_settings, which reports every mistake with its
// file:line:column and returns nullptr then. Immutable and shared afterwards.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/ble/value_codec.hpp"
#include "core/adapter_registry.hpp"

namespace fieldlink::ble {

struct Characteristic {
  std::string name;
  std::string uuid;          // 128-bit, lower case
  std::string service_uuid;  // "" when any service may hold it
  FieldCodec codec;
  std::chrono::milliseconds read{0};  // poll interval; 0: not polled
  bool notify = false;
  bool writable = false;
};

// Which devices a rule binds when it has no fixed MAC (a wildcard identity such as ble://tags/+).
struct DiscoveryRule {
  std::string name_prefix;   // "" matches any name
  std::string service_uuid;  // "" matches any advertised service set
};

struct DeviceSettings {
  std::string mac;  // upper case AA:BB:…; "" for a discovery rule
  std::optional<DiscoveryRule> discover;
  std::vector<Characteristic> characteristics;
};

struct AdvertField {
  std::string name;
  FieldCodec codec;
};

struct AdvertiserSettings {
  std::string mac;  // upper case, or "*" for any device
  std::optional<std::uint16_t> company_id;
  std::string service_data_uuid;  // set when company_id is not
  std::string name_prefix;        // with "*": only devices whose name starts so
  std::vector<AdvertField> fields;
  std::chrono::milliseconds dedupe{10000};
};

struct BleSettings final : AdapterSettings {
  std::string controller = "hci0";
  std::int64_t max_connections = 5;
  std::chrono::milliseconds connect_timeout{20000};
  std::chrono::milliseconds io_timeout{10000};  // ReadValue, WriteValue, StartNotify
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{60000};
  std::int64_t max_discovered = 64;  // devices bound through discovery rules or "*" advertisers
  std::vector<DeviceSettings> devices;
  std::vector<AdvertiserSettings> advertisers;

  bool needs_discovery() const;
};

std::shared_ptr<const BleSettings> parse_ble_settings(const ConfigNode& node,
                                                      const std::string& path,
                                                      Diagnostics& diagnostics);

// The key reference of the adapter type, as schema.cpp's reference table does for the daemon.
std::string ble_schema_reference();

// "2a6e", "0x2A6E", "00002A6E" or a full 128-bit UUID → the 128-bit lower-case form; nullopt if
// it is none of these.
std::optional<std::string> normalize_uuid(std::string_view text);
// "aa:bb:cc:dd:ee:01" → "AA:BB:CC:DD:EE:01"; nullopt if not six hex pairs.
std::optional<std::string> normalize_mac(std::string_view text);

}  // namespace fieldlink::ble
