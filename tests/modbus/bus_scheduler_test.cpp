// The bus scheduler and the unit breaker on a hand-driven clock: a dead unit is backed off
// exponentially and probed, live units stay on their grid, overruns are skipped and counted.
#include <gtest/gtest.h>

#include "adapters/modbus/bus_scheduler.hpp"
#include "core/clock.hpp"

namespace fieldlink::modbus {
namespace {

using namespace std::chrono_literals;
using State = UnitBreaker::State;

TEST(UnitBreaker, OpensAfterConsecutiveFailuresAndBacksOffExponentially) {
  UnitBreaker b({2, 1000ms, 4000ms});
  const std::chrono::steady_clock::time_point t0{1h};
  EXPECT_EQ(b.answered(), State::online);
  EXPECT_EQ(b.unanswered(t0), std::nullopt);  // one miss is not enough
  EXPECT_TRUE(b.may_poll(t0));
  EXPECT_EQ(b.unanswered(t0), State::offline);
  EXPECT_FALSE(b.may_poll(t0 + 999ms));
  EXPECT_TRUE(b.may_poll(t0 + 1000ms));
  b.unanswered(t0 + 1s);  // failed probe
  EXPECT_EQ(b.backoff(), 2000ms);
  b.unanswered(t0 + 3s);
  EXPECT_EQ(b.backoff(), 4000ms);
  b.unanswered(t0 + 7s);
  EXPECT_EQ(b.backoff(), 4000ms);  // the ceiling
  EXPECT_EQ(b.answered(), State::online);
  EXPECT_EQ(b.answered(), std::nullopt);           // logged once
  EXPECT_EQ(b.unanswered(t0 + 8s), std::nullopt);  // counting starts again
}

TEST(BusScheduler, ADeadUnitIsProbedWhileLiveUnitsKeepTheirGrid) {
  ManualClock clock;
  const auto t0 = clock.now();
  BusScheduler s({{0, 100ms}, {1, 100ms}, {2, 100ms}}, 3, {2, 1000ms, 60000ms}, t0);
  std::vector<int> polls(3, 0);
  // Simulate 10 s: live units answer in 2 ms, unit 2 times out after 100 ms.
  const auto end = t0 + 10s;
  while (clock.now() < end) {
    const auto next = s.next(clock.now());
    if (!next.group) {
      clock.advance(next.wake_at - clock.now());
      continue;
    }
    const auto g = *next.group;
    ++polls[g];
    clock.advance(g == 2 ? 100ms : 2ms);
    s.finished(g, g != 2, clock.now());
  }
  EXPECT_EQ(s.breaker(2).state(), State::offline);
  // Unit 2: 2 polls to open, then probes at +1, +2, +4 s (and not more) within 10 s.
  EXPECT_EQ(polls[2], 5);
  // The live units lose at most the polls that fell into unit 2's five timeouts.
  EXPECT_GE(polls[0], 95);
  EXPECT_GE(polls[1], 95);
  EXPECT_LE(s.skipped(0), 5u);
}

TEST(BusScheduler, AnOverrunningPollIsSkippedAndCountedNotQueued) {
  ManualClock clock;
  const auto t0 = clock.now();
  BusScheduler s({{0, 100ms}}, 1, {2, 1000ms, 60000ms}, t0);
  auto n = s.next(t0);
  ASSERT_TRUE(n.group);
  clock.advance(350ms);  // the poll took 3.5 periods
  s.finished(0, true, clock.now());
  n = s.next(clock.now());
  ASSERT_TRUE(n.group);         // one poll now, not three queued ones
  EXPECT_EQ(s.skipped(0), 2u);  // the 100 ms and 200 ms polls
  s.finished(0, true, clock.now());
  n = s.next(clock.now());
  EXPECT_FALSE(n.group);
  EXPECT_EQ(n.wake_at, t0 + 400ms);  // back on the grid
}

TEST(BusScheduler, MostOverdueGroupGoesFirst) {
  ManualClock clock;
  const auto t0 = clock.now();
  BusScheduler s({{0, 1000ms}, {1, 300ms}}, 2, {2, 1000ms, 60000ms}, t0);
  EXPECT_EQ(s.next(t0).group, 0u);
  EXPECT_EQ(s.next(t0).group, 1u);
  const auto n = s.next(t0);
  EXPECT_FALSE(n.group);
  EXPECT_EQ(n.wake_at, t0 + 300ms);
}

}  // namespace
}  // namespace fieldlink::modbus
