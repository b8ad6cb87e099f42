#pragma once
// Paces new hub connections (hub.connect_rate) so a whole site reconnecting after an outage never
// trips the hub's connect throttle: never more than the rate begun in any one-second window (the
// way the hub counts them), spread evenly rather than bunched. A timer that fires late — the loop
// was busy with TLS handshakes — does not cost throughput: what could not be granted on time is
// made up in bursts of at most a tenth of a second's worth, as far as the one-second window
// allows. (A bucket holding one token loses every late wake-up: the daemon benchmark measured
// 50–80 connects/s at a rate of 100/s on a busy box.)
// Thread: the owner's. Time comes from the injected Clock.
#include <chrono>
#include <cstddef>
#include <deque>

#include "core/clock.hpp"
#include "hub/token_bucket.hpp"

namespace fieldlink::hub {

class ConnectPacer {
 public:
  // `per_second` 0 means unlimited.
  ConnectPacer(const Clock& clock, double per_second);

  // Grants one connection if the pace allows it now.
  bool try_take();
  // How long until try_take can grant (zero if it can now).
  std::chrono::nanoseconds wait_time();

 private:
  void forget_old();

  const Clock& clock_;
  TokenBucket bucket_;
  std::size_t per_window_;                                     // grants allowed in any second
  std::deque<std::chrono::steady_clock::time_point> granted_;  // within the last second
};

}  // namespace fieldlink::hub
