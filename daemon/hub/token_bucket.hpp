#pragma once
// Pacing by token bucket: at most `rate` events per period on average, bursts up to `burst`.
// Used for new connections across all identities (hub.connect_rate) and for sends
// (hub.send_rate), so a whole site coming back after an outage never trips hub throttling.
// Thread: the owner's. Time comes from the injected Clock.
#include <chrono>
#include <cstdint>

#include "core/clock.hpp"

namespace fieldlink::hub {

class TokenBucket {
 public:
  // `per_second` 0 means unlimited. The bucket starts full, or with one token when `start_full`
  // is false (the burst is then only for making up lost time, not for the start).
  TokenBucket(const Clock& clock, double per_second, double burst, bool start_full = true);

  bool unlimited() const { return rate_ == 0; }
  // Takes one token if there is one.
  bool try_take();
  // How long until a token is available (zero if one is).
  std::chrono::nanoseconds wait_time();

 private:
  void refill();

  const Clock& clock_;
  double rate_;
  double burst_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace fieldlink::hub
