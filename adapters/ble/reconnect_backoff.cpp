#include "adapters/ble/reconnect_backoff.hpp"

#include <algorithm>

namespace fieldlink::ble {

std::chrono::milliseconds ReconnectBackoff::cap(std::uint32_t failures) const {
  auto c = initial_;
  for (std::uint32_t i = 1; i < failures && c < max_; ++i)
    c *= 2;
  return std::min(c, max_);
}

std::chrono::milliseconds ReconnectBackoff::delay(std::uint32_t failures, Rng& rng) const {
  const auto c = cap(std::max<std::uint32_t>(failures, 1));
  // A floor of 10 ms keeps a zero draw from turning into a tight loop against a failing device.
  const auto drawn =
      static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(c.count()) + 1));
  return std::chrono::milliseconds(std::max<std::int64_t>(drawn, 10));
}

}  // namespace fieldlink::ble
