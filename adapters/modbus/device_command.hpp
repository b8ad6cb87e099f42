#pragma once
// Downlink for one Modbus device, without I/O: turns a `write` method or C2D body
// ({"point": "setpoint", "value": 21.5} or {"points": {...}}), or a desired-twin patch, into
// encoded writes (refusing the whole command with 400 before anything is written when a value
// is invalid), and turns the bus's results into the Outcome the hub gets back.
#include <string>
#include <vector>

#include "adapters/modbus/modbus_bus.hpp"
#include "adapters/modbus/register_map.hpp"
#include "core/command.hpp"

namespace fieldlink::modbus {

struct DeviceCommand {
  enum class Kind { write, desired };
  Kind kind = Kind::write;
  bool single = false;  // {"point": …, "value": …}
  std::vector<WriteItem> writes;
  std::vector<std::string> names;  // parallel to writes
  std::vector<Value> values;       // parallel to writes
  // Desired properties that are not writable points, with why; acknowledged with 400.
  std::vector<std::pair<std::string, std::string>> refused;
  std::int64_t desired_version = 0;

  // Parses and validates; on failure returns nullopt and sets `bad_request` to a 400 outcome.
  static std::optional<DeviceCommand> write(const DeviceMap& device, const std::string& payload,
                                            Outcome& bad_request);
  static std::optional<DeviceCommand> desired(const DeviceMap& device, const std::string& payload,
                                              Outcome& bad_request);

  Outcome outcome(const std::vector<LinkStatus>& results) const;
};

// The HTTP-like status for a bus result: 200, 502 (exception, bad answer), 504 (no answer).
int status_of(const LinkStatus& s);
// {"values": {...}, "sampled_at": "..."} or the failure, for the `read` method.
Outcome read_outcome(const JobResult& result);
std::string utc_text(std::chrono::system_clock::time_point t);

}  // namespace fieldlink::modbus
