#include "device_rows.hpp"

#include <algorithm>
#include <ctime>
#include <set>

#include "identity-map/identity_map.hpp"
#include "status/device_list.hpp"
#include "text_table.hpp"

namespace fieldlink::ctl {
namespace {

using nlohmann::json;

void add_errors(const json& d, DeviceRow& row) {
  std::string text;
  for (const auto name : kDeviceErrorCounters) {
    const auto it = d.find(std::string(name));
    if (it == d.end()) continue;
    const auto n = counter_total(*it);
    if (n == 0) continue;
    row.errors += n;
    std::string label(name);
    std::replace(label.begin(), label.end(), '_', ' ');
    if (n == 1 && label.ends_with('s')) label.pop_back();
    text += (text.empty() ? "" : ", ") + std::to_string(n) + " " + label;
  }
  const auto last = d.value("last_error", std::string());
  if (!last.empty()) text += (text.empty() ? "last: " : "; last: ") + last;
  row.error_text = std::move(text);
}

DeviceRow row_from(const json& d, const std::string& adapter, std::string source,
                   std::chrono::system_clock::time_point now) {
  DeviceRow row;
  row.source = std::move(source);
  row.adapter = adapter;
  if (d.contains("state") && d["state"].is_string()) {
    row.state = d["state"].get<std::string>();
  } else if (d.contains("online") && d["online"].is_boolean()) {
    row.state = d["online"].get<bool>() ? "online" : "offline";
  } else {
    row.state = "unknown";
  }
  // An adapter's entry says when the device was last seen; the daemon's own list, when the
  // router last took a reading from it.
  const auto seen = d.contains("last_seen") ? d.find("last_seen") : d.find("last_reading");
  if (seen != d.end() && seen->is_string()) {
    row.last_seen = seen->get<std::string>();
    if (const auto t = parse_utc(row.last_seen)) {
      row.age_seconds = std::chrono::duration<double>(now - *t).count();
    }
  }
  add_errors(d, row);
  return row;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_utc(const std::string& text) {
  std::tm tm{};
  int ms = 0;
  char z = 0;
  const int n = std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &tm.tm_year, &tm.tm_mon,
                            &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &z);
  if (n != 8 || z != 'Z') return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const auto secs = ::timegm(&tm);
  if (secs == -1) return std::nullopt;
  return std::chrono::system_clock::from_time_t(secs) + std::chrono::milliseconds(ms);
}

std::string age_text(double seconds) {
  if (seconds < 0) seconds = 0;
  const auto s = static_cast<long long>(seconds);
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s / 60 % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", s / 86400, s / 3600 % 24);
  }
  return buf;
}

std::string identity_for(const std::string& source,
                         const std::vector<config::IdentityBinding>& bindings) {
  auto client = [](const std::string& device, const std::string& module) {
    return module.empty() ? device : device + "/" + module;
  };
  for (const auto& b : bindings) {
    if (b.source == source) return client(b.device_id, b.module_id);
  }
  for (const auto& b : bindings) {
    const auto levels = match_source(b.source, source);
    if (!levels) continue;
    std::string device;
    for (size_t i = 0; i < b.device_id.size(); ++i) {
      const auto close = b.device_id.find('}', i);
      if (b.device_id[i] == '{' && close == i + 2) {
        const auto n = static_cast<size_t>(b.device_id[i + 1] - '1');
        if (n < levels->size()) device += (*levels)[n];
        i = close;
      } else {
        device += b.device_id[i];
      }
    }
    return client(device, b.module_id);
  }
  return {};
}

std::vector<DeviceRow> device_rows(const json& status,
                                   const std::vector<config::IdentityBinding>* bindings,
                                   std::chrono::system_clock::time_point now) {
  std::vector<DeviceRow> rows;
  std::set<std::string> listed;
  if (status.contains("adapters") && status["adapters"].is_array()) {
    for (const auto& a : status["adapters"]) {
      if (!a.is_object()) continue;
      const auto adapter = a.value("name", "?");
      for_each_listed_device(adapter, a, [&](const std::string& source, const json& d) {
        if (listed.insert(source).second) rows.push_back(row_from(d, adapter, source, now));
      });
    }
  }
  // The daemon's own list also has the sources no adapter section lists (what the router took
  // from them); a device an adapter lists is shown once, with the adapter's state and counters.
  if (status.contains("devices") && status["devices"].is_array()) {
    for (const auto& d : status["devices"]) {
      if (!d.is_object() || !d.contains("source") || !d["source"].is_string()) continue;
      const auto source = d["source"].get<std::string>();
      if (!listed.insert(source).second) continue;
      auto row = row_from(d, d.value("adapter", std::string()), source, now);
      if (const auto n = d.contains("errors") ? counter_total(d["errors"]) : 0; n > 0) {
        row.errors = n;
        const auto count = std::to_string(n) + (n == 1 ? " error" : " errors");
        row.error_text = row.error_text.empty() ? count : count + "; " + row.error_text;
      }
      rows.push_back(std::move(row));
    }
  }
  if (bindings != nullptr) {
    for (auto& r : rows)
      r.identity = identity_for(r.source, *bindings);
  }
  std::sort(rows.begin(), rows.end(),
            [](const DeviceRow& a, const DeviceRow& b) { return a.source < b.source; });
  return rows;
}

std::string render_devices(const std::vector<DeviceRow>& rows, const Palette& palette) {
  TextTable table({"SOURCE", "IDENTITY", "ADAPTER", "STATE", "LAST READING", "ERRORS"});
  for (const auto& r : rows) {
    const auto state = r.state == "online"    ? palette.good(r.state)
                       : r.state == "offline" ? palette.bad(r.state)
                                              : palette.warn(r.state);
    const auto age = r.age_seconds ? age_text(*r.age_seconds) + " ago" : std::string("never");
    const auto errors = r.error_text.empty() ? std::string("-") : r.error_text;
    const auto identity = r.identity.empty() ? std::string("-") : r.identity;
    table.add(
        {r.source, identity, r.adapter, r.state, age, errors},
        {r.source, identity, r.adapter, state, age, r.errors > 0 ? palette.bad(errors) : errors});
  }
  return table.text();
}

}  // namespace fieldlink::ctl
