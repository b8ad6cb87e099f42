#pragma once
// The top-level `devices` list of /status: one entry per field device, whichever adapter has it,
// with the hub identity its readings travel on. The adapters' own sections describe devices in
// their own shapes (an array of entries with a `source`, or an object keyed by device key) and
// know nothing of identities; the router knows identities and what it took from each source but
// not the devices that never sent anything. This joins the two, so an operator (and
// `fieldlinkctl devices`) reads one list the daemon itself resolved.
// Thread: the caller's (the core loop); built afresh for each request.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fieldlink {

// What the router took from one source.
struct SourceActivity {
  std::optional<std::chrono::system_clock::time_point> last_reading;  // its sample time
  std::uint64_t readings = 0;
  std::uint64_t dropped = 0;  // not stored: no identity bound (unknown_sources: reject)
};

// What the status document and `fieldlinkctl devices` both read from an adapter's section, so
// that a device is named, and its errors counted, the same way in both.
// The counters that mean "this device had a problem", as the adapters name them.
inline constexpr std::string_view kDeviceErrorCounters[] = {
    "exceptions",    "timeouts", "bad_frames",      "link_errors",
    "failed_writes", "invalid",  "readings_refused"};
// A counter, or an object of counters (per characteristic, per kind), summed.
std::uint64_t counter_total(const nlohmann::json& value);
// Calls `each(source, entry)` for every device an adapter's /status section lists ("devices",
// and BLE's "advertisers"): an array of entries with a `source`, or an object keyed by device
// key, named <type>://<adapter>/<key> as the MQTT adapter's sources are. Entries of neither
// shape are skipped.
void for_each_listed_device(
    const std::string& adapter, const nlohmann::json& adapter_status,
    const std::function<void(const std::string& source, const nlohmann::json& entry)>& each);

class DeviceList {
 public:
  // The devices listed in one adapter's /status section (for_each_listed_device).
  void add_adapter(const std::string& adapter, const nlohmann::json& adapter_status);
  void add_activity(const std::string& source, const std::string& adapter,
                    const SourceActivity& activity);

  // [{ "source", "adapter", "identity" ("" when none), "last_reading" (null when never),
  //    "readings", "errors" (the adapter's error counters plus dropped readings),
  //    "last_error" }], sorted by source.
  nlohmann::json to_json(const std::function<std::string(const std::string&)>& identity_of) const;

 private:
  struct Entry {
    std::string adapter;
    SourceActivity activity;
    std::uint64_t adapter_errors = 0;
    std::string last_error;
  };
  void add_entry(const std::string& source, const std::string& adapter,
                 const nlohmann::json& device);

  std::map<std::string, Entry> entries_;
};

}  // namespace fieldlink
