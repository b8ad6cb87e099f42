#pragma once
// The read requests that poll one device, computed once per config: the points of each poll
// interval and table are coalesced into as few requests as the device's limits allow (at most
// max_registers registers or max_bits bits each), bridging unused gaps of up to max_gap.
// Immutable after build; shown in /status.
#include <chrono>
#include <cstdint>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "adapters/modbus/register_map.hpp"

namespace fieldlink::modbus {

struct ReadRequest {
  struct Slot {
    size_t point;          // index into DeviceMap::points
    std::uint16_t offset;  // first register (or bit) of the point within the request
  };
  Table table = Table::holding;
  std::uint16_t start = 0;
  std::uint16_t count = 0;
  std::vector<Slot> slots;
};

// Points polled at one interval; each poll of a group yields one Reading.
struct PollGroup {
  std::chrono::milliseconds interval{0};
  std::vector<ReadRequest> requests;
};

class PollPlan {
 public:
  // The device map must be valid (points fit the limits); the config checks that.
  static PollPlan build(const DeviceMap& device);

  const std::vector<PollGroup>& groups() const { return groups_; }
  size_t request_count() const;
  size_t register_count() const;  // registers and bits read per full round, gaps included
  void describe(const DeviceMap& device, nlohmann::json& out) const;

 private:
  std::vector<PollGroup> groups_;
};

}  // namespace fieldlink::modbus
