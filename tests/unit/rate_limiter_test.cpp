#include "service/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace fieldlink {
namespace {

using namespace std::chrono_literals;

TEST(RateLimiter, PassesNPerWindowAndCountsTheRest) {
  ManualClock clock;
  RateLimiter limiter(clock, 3, 60s);
  int passed = 0;
  for (int i = 0; i < 10; ++i)
    passed += limiter.admit("dev-1/timeout").pass ? 1 : 0;
  EXPECT_EQ(passed, 3);
  EXPECT_EQ(limiter.total_suppressed(), 7u);
}

TEST(RateLimiter, ReportsTheSuppressedCountWhenTheNextWindowOpens) {
  ManualClock clock;
  RateLimiter limiter(clock, 2, 60s);
  for (int i = 0; i < 5; ++i)
    limiter.admit("k");
  clock.advance(59s);
  EXPECT_FALSE(limiter.admit("k").pass);  // still the first window
  clock.advance(1s);
  const auto v = limiter.admit("k");
  EXPECT_TRUE(v.pass);
  EXPECT_EQ(v.suppressed_before, 4u);
  EXPECT_EQ(limiter.admit("k").suppressed_before, 0u);  // reported once
}

TEST(RateLimiter, KeysAreIndependent) {
  ManualClock clock;
  RateLimiter limiter(clock, 1, 60s);
  EXPECT_TRUE(limiter.admit("a").pass);
  EXPECT_FALSE(limiter.admit("a").pass);
  EXPECT_TRUE(limiter.admit("b").pass);
}

TEST(RateLimiter, ForgetsIdleKeysButNotUnreportedSuppressions) {
  ManualClock clock;
  RateLimiter limiter(clock, 1, 1s);
  limiter.admit("noisy");
  limiter.admit("noisy");  // one suppressed, not yet reported
  for (int i = 0; i < 2000; ++i)
    limiter.admit("quiet-" + std::to_string(i));
  clock.advance(10s);
  limiter.admit("trigger-prune");
  EXPECT_EQ(limiter.admit("noisy").suppressed_before, 1u);
}

}  // namespace
}  // namespace fieldlink
