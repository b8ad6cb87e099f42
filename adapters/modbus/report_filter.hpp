#pragma once
// Decides which of a device's points go into a reading: `report: always` points every time,
// `report: change` points when they changed by at least their deadband (any change without
// one), when their heartbeat is due, and always after the device came back online.
// Lane-confined; pure logic on an injected time.
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "adapters/modbus/register_map.hpp"
#include "core/value.hpp"

namespace fieldlink::modbus {

class ReportFilter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Values = std::vector<std::pair<std::string, Value>>;

  explicit ReportFilter(const DeviceMap& device) : device_(device), last_(device.points.size()) {}

  // `values` are the decoded values of point `point` (16 for bits); true: report them.
  bool keep(size_t point, const Values& values, TimePoint now);
  // Forget what was reported, so every point is reported on the next poll.
  void reset();

 private:
  struct Last {
    Values values;
    TimePoint at{};
  };
  const DeviceMap& device_;
  std::vector<std::optional<Last>> last_;
};

}  // namespace fieldlink::modbus
