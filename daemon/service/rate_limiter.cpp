#include "service/rate_limiter.hpp"

namespace fieldlink {

// Keys unseen for this many windows are forgotten so the map stays as small as the set of
// sources that are actually talking.
constexpr int kIdleWindowsBeforeForget = 4;
constexpr size_t kPruneAbove = 1024;

RateLimiter::RateLimiter(const Clock& clock, std::uint64_t per_window,
                         std::chrono::milliseconds window)
    : clock_(clock), per_window_(per_window), window_(window) {}

void RateLimiter::set_limit(std::uint64_t per_window, std::chrono::milliseconds window) {
  per_window_ = per_window;
  window_ = window;
}

RateLimiter::Verdict RateLimiter::admit(const std::string& key) {
  const auto now = clock_.now();
  if (buckets_.size() > kPruneAbove) {
    std::erase_if(buckets_, [&](const auto& kv) {
      return kv.second.suppressed == 0 &&
             now - kv.second.window_start >= window_ * kIdleWindowsBeforeForget;
    });
  }
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{now, 0, 0});
  auto& b = it->second;
  Verdict v;
  if (!fresh && now - b.window_start >= window_) {
    v.suppressed_before = b.suppressed;
    b = Bucket{now, 0, 0};
  }
  if (b.passed < per_window_) {
    ++b.passed;
    v.pass = true;
  } else {
    ++b.suppressed;
    ++total_suppressed_;
  }
  return v;
}

}  // namespace fieldlink
