#pragma once
// The seam between the BLE adapter and BlueZ (design.md §9): the few calls and events of BlueZ's
// D-Bus API (org.bluez) the adapter uses, in plain types. The real implementation
// (SdbusBluezLink) speaks D-Bus with sdbus-c++ on its own thread; tests of the adapter's logic
// could drive this interface by hand.
// Thread: every member is called on the core loop, and every callback and event arrives there.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "adapters/ble/value_codec.hpp"

namespace fieldlink::ble {

// The properties of org.bluez objects the adapter reads; absent ones were not in the message.
struct BluezProps {
  std::optional<bool> powered;                    // Adapter1
  std::optional<std::string> address;             // Device1
  std::optional<std::string> name;                // Device1 (Name, else Alias)
  std::optional<std::string> adapter;             // Device1: its controller's object path
  std::optional<bool> connected;                  // Device1
  std::optional<bool> services_resolved;          // Device1
  std::optional<std::int16_t> rssi;               // Device1
  std::optional<std::vector<std::string>> uuids;  // Device1: advertised
  std::optional<std::map<std::uint16_t, Bytes>> manufacturer_data;  // Device1
  std::optional<std::map<std::string, Bytes>> service_data;         // Device1
  std::optional<std::string> uuid;   // GattService1, GattCharacteristic1
  std::optional<std::string> owner;  // GattService1.Device, GattCharacteristic1.Service
  std::optional<std::vector<std::string>> flags;  // GattCharacteristic1
  std::optional<Bytes> value;                     // GattCharacteristic1
  std::optional<bool> notifying;                  // GattCharacteristic1
};

enum class BluezInterface { adapter, device, service, characteristic };

// What a call came to: ok, or the D-Bus error name (org.bluez.Error.Failed, ...NoReply for a
// timeout) and its message.
struct BluezResult {
  std::string error_name;  // "" when ok
  std::string error_message;
  Bytes value;  // ReadValue

  bool ok() const { return error_name.empty(); }
  bool timed_out() const {
    return error_name == "org.freedesktop.DBus.Error.NoReply" ||
           error_name == "org.freedesktop.DBus.Error.Timeout" ||
           error_name == "org.bluez.Error.Timeout";
  }
};

class BluezEvents {
 public:
  virtual ~BluezEvents() = default;
  // The bus and org.bluez are reachable; `objects` follow as interface_added, one per interface.
  virtual void bluez_up() = 0;
  // The bus or the org.bluez service went away: every object is gone.
  virtual void bluez_down(const std::string& why) = 0;
  // `snapshot`: from GetManagedObjects (BlueZ's cache, possibly old), not from a signal.
  virtual void interface_added(const std::string& path, BluezInterface iface,
                               const BluezProps& props, bool snapshot) = 0;
  virtual void interface_removed(const std::string& path, BluezInterface iface) = 0;
  virtual void properties_changed(const std::string& path, BluezInterface iface,
                                  const BluezProps& changed) = 0;
};

class BluezLink {
 public:
  using Done = std::function<void(BluezResult)>;
  enum class WriteType { request, command };

  virtual ~BluezLink() = default;
  virtual void start(BluezEvents& events) = 0;
  // No callback or event runs after stop() returns.
  virtual void stop() = 0;

  virtual void connect(const std::string& device, std::chrono::milliseconds timeout, Done) = 0;
  virtual void disconnect(const std::string& device, Done) = 0;
  virtual void read_value(const std::string& chr, std::chrono::milliseconds timeout, Done) = 0;
  virtual void write_value(const std::string& chr, const Bytes& value, std::uint16_t offset,
                           WriteType type, std::chrono::milliseconds timeout, Done) = 0;
  virtual void start_notify(const std::string& chr, std::chrono::milliseconds timeout, Done) = 0;
  // Passive-ish LE scan: transport le, duplicates reported (so RSSI updates arrive), optional
  // service UUIDs to narrow it.
  virtual void start_discovery(const std::string& controller, const std::vector<std::string>& uuids,
                               Done) = 0;
  virtual void stop_discovery(const std::string& controller, Done) = 0;
};

}  // namespace fieldlink::ble
