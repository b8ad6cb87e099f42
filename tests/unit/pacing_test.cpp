// Backoff bounds and token-bucket pacing, with a clock the test moves.
#include <gtest/gtest.h>

#include "hub/backoff.hpp"
#include "hub/token_bucket.hpp"

namespace fieldlink::hub {
namespace {

using namespace std::chrono_literals;

TEST(Backoff, FullJitterStaysWithinTheDoublingStepAndTheCap) {
  SeededRng rng(7);
  Backoff b(rng);
  const Backoff::Policy p{1s, 60s, true};
  std::chrono::milliseconds step = 1s;
  for (int i = 0; i < 20; ++i) {
    const auto d = b.next(p);
    EXPECT_GE(d.count(), 0);
    EXPECT_LE(d, std::min<std::chrono::milliseconds>(step, 60s)) << i;
    step *= 2;
  }
}

TEST(Backoff, CredentialFailuresWaitAtLeastHalfTheStep) {
  SeededRng rng(1);
  Backoff b(rng);
  EXPECT_GE(b.next(Backoff::kCredential), 30s);
  EXPECT_GE(b.next(Backoff::kCredential), 60s);
  for (int i = 0; i < 30; ++i)
    EXPECT_LE(b.next(Backoff::kCredential), 1h);
  b.reset();
  EXPECT_LE(b.next(Backoff::kCredential), 60s);
}

TEST(Backoff, JitterSpreadsASiteOfSessions) {
  SeededRng rng(3);
  std::vector<std::int64_t> first;
  for (int i = 0; i < 100; ++i)
    first.push_back(Backoff(rng).next(Backoff::kTransient).count());
  std::sort(first.begin(), first.end());
  EXPECT_LT(first[10], 200);  // some retry soon
  EXPECT_GT(first[90], 800);  // others later: not a thundering herd
}

TEST(TokenBucket, PacesToTheRateAfterTheBurst) {
  ManualClock clock;
  TokenBucket bucket(clock, 10, 1);
  int taken = 0;
  // Step through 10 simulated seconds in 1 ms steps, taking whenever allowed.
  for (int ms = 0; ms < 10'000; ++ms) {
    while (bucket.try_take())
      ++taken;
    clock.advance(1ms);
  }
  EXPECT_GE(taken, 100);
  EXPECT_LE(taken, 101);  // 1 burst token + 10/s × 10 s
}

TEST(TokenBucket, NeverExceedsTheRateInAnyWindow) {
  ManualClock clock;
  TokenBucket bucket(clock, 5, 1);
  std::vector<std::chrono::steady_clock::time_point> grants;
  for (int ms = 0; ms < 5'000; ++ms) {
    if (bucket.try_take()) grants.push_back(clock.now());
    clock.advance(1ms);
  }
  for (std::size_t i = 0; i + 6 < grants.size(); ++i) {
    EXPECT_GE(grants[i + 5] - grants[i], 1s - 1ms) << i;  // at most 5 (+1 edge) in any second
  }
}

TEST(TokenBucket, TellsHowLongToWait) {
  ManualClock clock;
  TokenBucket bucket(clock, 4, 1);
  ASSERT_TRUE(bucket.try_take());
  EXPECT_FALSE(bucket.try_take());
  const auto wait = bucket.wait_time();
  EXPECT_GT(wait, 249ms);
  EXPECT_LE(wait, 251ms);
  clock.advance(wait);
  EXPECT_TRUE(bucket.try_take());
}

TEST(TokenBucket, ZeroRateMeansUnlimited) {
  ManualClock clock;
  TokenBucket bucket(clock, 0, 1);
  for (int i = 0; i < 1000; ++i)
    EXPECT_TRUE(bucket.try_take());
  EXPECT_EQ(bucket.wait_time().count(), 0);
}

}  // namespace
}  // namespace fieldlink::hub
