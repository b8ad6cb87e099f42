#include "adapters/mqtt/device_table.hpp"

#include <nlohmann/json.hpp>

#include "core/utc_time.hpp"

namespace fieldlink::mqtt {

void DeviceTable::seen(const std::string& key, Steady now, Wall wall, bool valid) {
  auto& d = devices_[key];
  d.last_seen = now;
  d.last_seen_wall = wall;
  if (!d.online) {
    d.online = true;
    changed(key, d);
  }
  if (valid) {
    ++d.messages;
  } else {
    ++d.invalid;
  }
}

void DeviceTable::expire(Steady now) {
  for (auto& [key, d] : devices_) {
    if (d.online && now - d.last_seen >= offline_after_) {
      d.online = false;
      changed(key, d);
    }
  }
}

void DeviceTable::changed(const std::string& key, const Device& d) {
  if (d.presence_sent == d.online) {
    unreported_.erase(key);  // back where it was last reported: nothing to say
  } else {
    unreported_.insert(key);
  }
}

std::vector<std::pair<std::string, bool>> DeviceTable::unreported_presence() const {
  std::vector<std::pair<std::string, bool>> out;
  out.reserve(unreported_.size());
  for (const auto& key : unreported_)
    out.emplace_back(key, devices_.at(key).online);
  return out;
}

void DeviceTable::presence_reported(const std::string& key, bool online) {
  if (auto it = devices_.find(key); it != devices_.end()) {
    it->second.presence_sent = online;
    changed(key, it->second);
  }
}

std::optional<bool> DeviceTable::online(const std::string& key) const {
  const auto it = devices_.find(key);
  if (it == devices_.end()) return std::nullopt;
  return it->second.online;
}

void DeviceTable::describe(nlohmann::json& out) const {
  out = nlohmann::json::object();
  for (const auto& [key, d] : devices_) {
    out[key] = {{"online", d.online},
                {"last_seen", utc_iso8601(d.last_seen_wall)},
                {"messages", d.messages},
                {"invalid", d.invalid},
                {"reported", d.reported}};
  }
}

}  // namespace fieldlink::mqtt
