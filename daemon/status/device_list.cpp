#include "status/device_list.hpp"

#include "core/utc_time.hpp"

namespace fieldlink {

using nlohmann::json;

std::uint64_t counter_total(const json& v) {
  if (v.is_number_unsigned() || v.is_number_integer()) return v.get<std::uint64_t>();
  std::uint64_t sum = 0;
  if (v.is_object()) {
    for (const auto& [k, x] : v.items())
      sum += counter_total(x);
  }
  return sum;
}

void for_each_listed_device(
    const std::string& adapter, const json& adapter_status,
    const std::function<void(const std::string& source, const json& entry)>& each) {
  const auto type = adapter_status.value("type", std::string());
  for (const auto* section : {"devices", "advertisers"}) {
    if (!adapter_status.contains(section)) continue;
    const auto& devices = adapter_status[section];
    if (devices.is_array()) {
      for (const auto& d : devices) {
        if (d.is_object() && d.contains("source") && d["source"].is_string()) {
          each(d["source"].get<std::string>(), d);
        }
      }
    } else if (devices.is_object()) {
      for (const auto& [key, d] : devices.items()) {
        if (d.is_object()) each(type + "://" + adapter + "/" + key, d);
      }
    }
  }
}

void DeviceList::add_entry(const std::string& source, const std::string& adapter,
                           const json& device) {
  auto& e = entries_[source];
  e.adapter = adapter;
  for (const auto name : kDeviceErrorCounters) {
    const auto it = device.find(std::string(name));
    if (it != device.end()) e.adapter_errors += counter_total(*it);
  }
  if (device.contains("last_error") && device["last_error"].is_string()) {
    e.last_error = device["last_error"].get<std::string>();
  }
}

void DeviceList::add_adapter(const std::string& adapter, const json& adapter_status) {
  for_each_listed_device(adapter, adapter_status, [&](const std::string& source, const json& d) {
    add_entry(source, adapter, d);
  });
}

void DeviceList::add_activity(const std::string& source, const std::string& adapter,
                              const SourceActivity& activity) {
  auto& e = entries_[source];
  if (e.adapter.empty()) e.adapter = adapter;
  e.activity = activity;
}

json DeviceList::to_json(const std::function<std::string(const std::string&)>& identity_of) const {
  auto out = json::array();
  for (const auto& [source, e] : entries_) {
    const auto& a = e.activity;
    out.push_back({{"source", source},
                   {"adapter", e.adapter},
                   {"identity", identity_of(source)},
                   {"last_reading", a.last_reading ? json(utc_iso8601(*a.last_reading)) : json()},
                   {"readings", a.readings},
                   {"errors", e.adapter_errors + a.dropped},
                   {"last_error", e.last_error}});
  }
  return out;
}

}  // namespace fieldlink
