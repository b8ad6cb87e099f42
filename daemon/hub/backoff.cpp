#include "hub/backoff.hpp"

#include <algorithm>

namespace fieldlink::hub {

std::chrono::milliseconds Backoff::next(const Policy& policy) {
  // Capping the exponent keeps base << shift inside 64 bits for any base up to days.
  const auto shift = std::min<std::uint32_t>(attempt_, 24);
  ++attempt_;
  const auto base = static_cast<std::uint64_t>(policy.base.count());
  const auto cap = static_cast<std::uint64_t>(policy.cap.count());
  const std::uint64_t step = std::min(cap, base << shift);
  if (policy.full_jitter) return std::chrono::milliseconds(rng_.below(step + 1));
  return std::chrono::milliseconds(step / 2 + rng_.below(step - step / 2 + 1));
}

}  // namespace fieldlink::hub
