#pragma once
// When to try a lost device again: exponential backoff with full jitter (a uniform wait between
// zero and the doubled cap), so devices that dropped together (a controller reset) do not all
// reconnect at the same instant. Pure; the Rng is injected.
#include <chrono>
#include <cstdint>

#include "core/rng.hpp"

namespace fieldlink::ble {

class ReconnectBackoff {
 public:
  ReconnectBackoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max) {}

  // The wait before attempt number `failures` + 1 (failures ≥ 1).
  std::chrono::milliseconds delay(std::uint32_t failures, Rng& rng) const;
  // The upper bound of that wait, without jitter.
  std::chrono::milliseconds cap(std::uint32_t failures) const;

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
};

}  // namespace fieldlink::ble
