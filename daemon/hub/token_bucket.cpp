#include "hub/token_bucket.hpp"

#include <algorithm>

namespace fieldlink::hub {

TokenBucket::TokenBucket(const Clock& clock, double per_second, double burst, bool start_full)
    : clock_(clock),
      rate_(per_second),
      burst_(std::max(1.0, burst)),
      tokens_(start_full ? burst_ : 1.0),
      last_(clock.now()) {}

void TokenBucket::refill() {
  const auto now = clock_.now();
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
}

bool TokenBucket::try_take() {
  if (unlimited()) return true;
  refill();
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

std::chrono::nanoseconds TokenBucket::wait_time() {
  if (unlimited()) return {};
  refill();
  if (tokens_ >= 1.0) return {};
  return std::chrono::nanoseconds(static_cast<std::int64_t>((1.0 - tokens_) / rate_ * 1e9) + 1);
}

}  // namespace fieldlink::hub
