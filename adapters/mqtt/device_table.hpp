#pragma once
// What the MQTT adapter knows about each device it has heard from: last seen, counters and
// presence. A device unseen for `offline_after` is offline; presence changes are reported once
// each (as `fieldlink.online` readings) and retried until the sink accepts them.
// Thread: core loop only. Time comes from the caller (the injected Clock), so tests drive it.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace fieldlink::mqtt {

class DeviceTable {
 public:
  using Steady = std::chrono::steady_clock::time_point;
  using Wall = std::chrono::system_clock::time_point;

  explicit DeviceTable(std::chrono::milliseconds offline_after) : offline_after_(offline_after) {}

  // A message from the device (valid or not: either way it is alive).
  void seen(const std::string& key, Steady now, Wall wall, bool valid);
  void reported(const std::string& key) { ++devices_[key].reported; }
  // Marks devices unseen for offline_after as offline.
  void expire(Steady now);
  // Devices whose presence has changed since it was last reported, with the new state. Costs the
  // number of changes, not of devices: it is asked after every message.
  std::vector<std::pair<std::string, bool>> unreported_presence() const;
  void presence_reported(const std::string& key, bool online);

  // nullopt: never seen.
  std::optional<bool> online(const std::string& key) const;
  // { "<key>": { "online", "last_seen", "messages", "invalid", "reported" } }
  void describe(nlohmann::json& out) const;
  size_t size() const { return devices_.size(); }

 private:
  struct Device {
    Steady last_seen{};
    Wall last_seen_wall{};
    std::uint64_t messages = 0;
    std::uint64_t invalid = 0;
    std::uint64_t reported = 0;
    bool online = false;
    std::optional<bool> presence_sent;
  };
  void changed(const std::string& key, const Device& d);

  std::chrono::milliseconds offline_after_;
  std::map<std::string, Device> devices_;
  std::set<std::string> unreported_;  // presence differs from the last one reported
};

}  // namespace fieldlink::mqtt
