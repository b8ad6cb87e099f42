#pragma once
// The field devices in a /status document, one row each, whatever adapter reports them: Modbus
// and serial adapters list devices with a `source`, the MQTT adapter keys them by device key.
// Pure: the document and the time come in, rows and text go out.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "terminal.hpp"

namespace fieldlink::ctl {

struct DeviceRow {
  std::string source;
  std::string identity;  // hub client id from the config's bindings; empty when unbound/unknown
  std::string adapter;
  std::string state;      // online, offline, unknown
  std::string last_seen;  // as reported (UTC ISO-8601), empty when never
  std::optional<double> age_seconds;
  std::uint64_t errors = 0;
  std::string error_text;  // "2 timeouts, 1 bad frame; last: …", empty when none
};

// `bindings` may be null (config unreadable): identities are then left empty.
std::vector<DeviceRow> device_rows(const nlohmann::json& status,
                                   const std::vector<config::IdentityBinding>* bindings,
                                   std::chrono::system_clock::time_point now);

// The hub client id a source is bound to: an exact binding, else the first matching wildcard
// with its {n} filled in; empty when none matches.
std::string identity_for(const std::string& source,
                         const std::vector<config::IdentityBinding>& bindings);

std::string render_devices(const std::vector<DeviceRow>& rows, const Palette& palette);

// "2026-11-26T05:30:44.123Z" → time point; nullopt when it is not that shape.
std::optional<std::chrono::system_clock::time_point> parse_utc(const std::string& text);
// 4s, 3m12s, 2h05m, 3d04h.
std::string age_text(double seconds);

}  // namespace fieldlink::ctl
