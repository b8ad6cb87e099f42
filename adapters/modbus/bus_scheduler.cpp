#include "adapters/modbus/bus_scheduler.hpp"

#include <algorithm>

namespace fieldlink::modbus {

BusScheduler::BusScheduler(std::vector<Group> groups, size_t devices, UnitBreaker::Params breaker,
                           TimePoint start)
    : groups_(std::move(groups)),
      due_(groups_.size(), start),
      breakers_(devices, UnitBreaker(breaker)),
      skipped_(devices, 0) {}

BusScheduler::Next BusScheduler::next(TimePoint now) {
  std::optional<size_t> best;
  TimePoint best_at = TimePoint::max();
  for (size_t g = 0; g < groups_.size(); ++g) {
    const auto& b = breakers_[groups_[g].device];
    // An offline unit's groups wait for its probe; their missed periods are not "skipped".
    const auto at =
        b.state() == UnitBreaker::State::offline ? std::max(due_[g], b.retry_at()) : due_[g];
    if (at < best_at) {
      best_at = at;
      best = g;
    }
  }
  if (!best || best_at > now) return {std::nullopt, best_at};
  const auto g = *best;
  const auto period = groups_[g].interval;
  const auto& b = breakers_[groups_[g].device];
  if (b.state() == UnitBreaker::State::offline) {
    due_[g] = now + period;
  } else {
    // Keep the phase: a poll that runs late is followed by the next one on the grid, and every
    // grid point that passed while the bus was busy is counted once as skipped.
    const auto missed = (now - due_[g]) / period;
    skipped_[groups_[g].device] += static_cast<std::uint64_t>(missed);
    due_[g] += period * (missed + 1);
  }
  return {g, now};
}

std::optional<UnitBreaker::State> BusScheduler::finished(size_t group, bool answered,
                                                         TimePoint now) {
  auto& b = breakers_[groups_[group].device];
  return answered ? b.answered() : b.unanswered(now);
}

}  // namespace fieldlink::modbus
