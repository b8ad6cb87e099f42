#pragma once
// Which poll runs next on one bus. The bus does one request at a time, so the scheduler picks
// the most overdue poll group whose unit's breaker allows it. A group that missed whole periods
// (the bus was busy) runs once and the missed polls are counted as skipped, never queued; an
// offline unit is polled only when its probe is due. Writes are not here: the bus runs queued
// writes before asking for the next poll. Pure logic on an injected time; lane-confined.
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "adapters/modbus/unit_breaker.hpp"

namespace fieldlink::modbus {

class BusScheduler {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::milliseconds;

  struct Group {
    size_t device = 0;
    Duration interval{1000};
  };
  struct Next {
    std::optional<size_t> group;  // poll this group now
    TimePoint wake_at{};          // otherwise: nothing is due before this
  };

  BusScheduler(std::vector<Group> groups, size_t devices, UnitBreaker::Params breaker,
               TimePoint start);

  Next next(TimePoint now);
  // The poll of `group` (picked by next) ended; `answered` false when its unit did not answer.
  std::optional<UnitBreaker::State> finished(size_t group, bool answered, TimePoint now);

  const UnitBreaker& breaker(size_t device) const { return breakers_[device]; }
  std::uint64_t skipped(size_t device) const { return skipped_[device]; }

 private:
  std::vector<Group> groups_;
  std::vector<TimePoint> due_;
  std::vector<UnitBreaker> breakers_;
  std::vector<std::uint64_t> skipped_;
};

}  // namespace fieldlink::modbus
