// Backoff bounds, token-bucket and connect pacing, with a clock the test moves.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "hub/backoff.hpp"
#include "hub/connect_pacer.hpp"
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

// A pacer driven the way the upstream drives it: a timer armed for wait_time() that fires late by
// up to `late_max` (a loop busy with TLS handshakes), then as many grants as it allows. Returns
// the grant times over `span`.
std::vector<std::chrono::steady_clock::time_point> drive(double rate,
                                                         std::chrono::microseconds late_max,
                                                         std::chrono::seconds span) {
  ManualClock clock;
  ConnectPacer pacer(clock, rate);
  SeededRng rng(11);
  std::vector<std::chrono::steady_clock::time_point> grants;
  const auto end = clock.now() + span;
  while (clock.now() < end) {
    while (pacer.try_take())
      grants.push_back(clock.now());
    const auto late =
        std::chrono::microseconds(rng.below(static_cast<std::uint64_t>(late_max.count()) + 1));
    clock.advance(pacer.wait_time() + late);
  }
  return grants;
}

std::size_t busiest_second(const std::vector<std::chrono::steady_clock::time_point>& grants) {
  std::size_t most = 0;
  for (std::size_t i = 0, j = 0; i < grants.size(); ++i) {
    while (grants[i] - grants[j] >= 1s)
      ++j;
    most = std::max(most, i - j + 1);
  }
  return most;
}

TEST(ConnectPacer, NeverMoreThanTheRateInAnySecondEvenWhenTimersFireLate) {
  for (const auto late : {0us, 3000us, 8000us, 40000us}) {
    const auto grants = drive(100, late, 20s);
    EXPECT_LE(busiest_second(grants), 100u) << late.count() << " us late";
  }
}

TEST(ConnectPacer, LateTimersAreMadeUpSoTheRateIsReached) {
  // Timers up to 8 ms late at 100/s (a 10 ms step): a one-token bucket loses about a third.
  const auto grants = drive(100, 8000us, 20s);
  EXPECT_GE(grants.size(), 1950u);
}

TEST(ConnectPacer, OnTimeItSpacesGrantsEvenly) {
  const auto grants = drive(100, 0us, 5s);
  ASSERT_GT(grants.size(), 20u);
  // One every 10 ms from the start: the burst is only for making up late timers.
  for (std::size_t i = 1; i < grants.size(); ++i)
    EXPECT_GE(grants[i] - grants[i - 1], 9ms) << i;
}

TEST(ConnectPacer, SlowRatesAndUnlimited) {
  const auto slow = drive(0.5, 1000us, 10s);
  EXPECT_EQ(slow.size(), 5u);  // one at once, then one every 2 s within 10 s
  ManualClock clock;
  ConnectPacer unlimited(clock, 0);
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(unlimited.try_take());
  EXPECT_EQ(unlimited.wait_time(), std::chrono::nanoseconds(0));
}

}  // namespace
}  // namespace fieldlink::hub
