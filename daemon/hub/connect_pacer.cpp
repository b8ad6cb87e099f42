#include "hub/connect_pacer.hpp"

#include <algorithm>
#include <cmath>

namespace fieldlink::hub {

using namespace std::chrono_literals;

namespace {
// A millisecond over a second: a connection stamped (or sent) a moment after its grant, later
// after the earlier grants of a burst, still finds at most the rate in any one-second window.
constexpr auto kWindow = 1s + 1ms;
}  // namespace

ConnectPacer::ConnectPacer(const Clock& clock, double per_second)
    : clock_(clock),
      bucket_(clock, per_second, std::max(1.0, per_second / 10), false),
      // Below one a second the bucket alone spaces them; a window then allows one.
      per_window_(per_second == 0 ? 0 : std::max<std::size_t>(1, std::floor(per_second))) {}

void ConnectPacer::forget_old() {
  const auto now = clock_.now();
  while (!granted_.empty() && granted_.front() <= now - kWindow)
    granted_.pop_front();
}

bool ConnectPacer::try_take() {
  if (per_window_ == 0) return true;
  forget_old();
  if (granted_.size() >= per_window_ || !bucket_.try_take()) return false;
  granted_.push_back(clock_.now());
  return true;
}

std::chrono::nanoseconds ConnectPacer::wait_time() {
  if (per_window_ == 0) return {};
  forget_old();
  std::chrono::nanoseconds wait = bucket_.wait_time();
  if (granted_.size() >= per_window_) {
    // The oldest grant leaves the window just after it.
    wait =
        std::max<std::chrono::nanoseconds>(wait, granted_.front() + kWindow - clock_.now() + 1ns);
  }
  return wait;
}

}  // namespace fieldlink::hub
