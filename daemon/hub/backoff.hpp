#pragma once
// Reconnect delays: exponential with jitter, bounded (iothub-mqtt.md §8.5; field-lessons.md
// "reconnect storms"). Full jitter spreads a whole site's reconnects after an outage; a
// credential failure backs off much longer and never below half its step, so a deleted or
// disabled identity does not hammer the hub.
#include <chrono>
#include <cstdint>

#include "core/rng.hpp"

namespace fieldlink::hub {

class Backoff {
 public:
  struct Policy {
    std::chrono::milliseconds base;
    std::chrono::milliseconds cap;
    bool full_jitter;  // [0, step] when true, else [step/2, step]
  };
  static constexpr Policy kTransient{std::chrono::seconds(1), std::chrono::minutes(2), true};
  static constexpr Policy kCredential{std::chrono::minutes(1), std::chrono::hours(1), false};

  explicit Backoff(Rng& rng) : rng_(rng) {}

  // The delay before the next attempt after a failure of this kind.
  std::chrono::milliseconds next(const Policy& policy);
  void reset() { attempt_ = 0; }
  std::uint32_t attempts() const { return attempt_; }

 private:
  Rng& rng_;
  std::uint32_t attempt_ = 0;
};

}  // namespace fieldlink::hub
