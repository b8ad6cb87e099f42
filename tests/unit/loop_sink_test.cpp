// The hand-over from adapter threads to the core loop: a full journal intake makes the pushing
// thread wait instead of losing the reading; what the intake refuses is held and offered again,
// in order, after a commit; close() releases waiting threads; readings that queue while the loop
// is busy are taken in one handler; a push's durability mark follows the journal's commits.
#include <utility>  // before asio, for Boost 1.74 under C++20

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <future>
#include <thread>

#include "loop_sink.hpp"

namespace fieldlink {
namespace {

using namespace std::chrono_literals;

// The router and journal intake as the sink sees them: takes readings while its depth is below
// the capacity; the test "commits" by emptying it.
class Intake final : public ReadingSink {
 public:
  Result push(Reading r) override {
    if (depth >= kCapacity) return Result::backpressure;
    ++depth;
    taken.push_back(std::get<std::int64_t>(r.values.front().second));
    return Result::accepted;
  }
  static constexpr std::size_t kCapacity = 4;
  std::size_t depth = 0;
  std::vector<std::int64_t> taken;
};

Reading numbered(std::int64_t n) {
  return Reading{SourceAddress::make("mqtt", AdapterName("plant"), "s1"), {}, {{"n", Value{n}}}};
}

class LoopSinkTest : public ::testing::Test {
 protected:
  LoopSinkTest() {
    thread_ = std::thread([this] { loop_.run(); });
  }
  ~LoopSinkTest() override {
    guard_.reset();
    loop_.stop();
    thread_.join();
  }
  template <class F>
  auto on_loop(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    boost::asio::post(loop_, [&task] { task(); });
    return result.get();
  }
  // A commit: the intake empties and the sink is told.
  void commit() {
    on_loop([this] {
      intake_.depth = 0;
      sink_.settled(0);
      return 0;
    });
  }

  boost::asio::io_context loop_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_{
      loop_.get_executor()};
  Intake intake_;
  // At most 3 readings between a thread and a commit; a wait gives up after 10 s.
  LoopSink sink_{loop_, intake_, [this] { return intake_.depth; }, Intake::kCapacity, 3, 10s};
  std::thread thread_;
};

TEST_F(LoopSinkTest, AFullIntakeMakesTheThreadWaitAndLosesNothing) {
  std::promise<void> done;
  std::thread producer([&] {
    for (std::int64_t n = 0; n < 10; ++n)
      EXPECT_EQ(sink_.push(numbered(n)), ReadingSink::Result::accepted) << n;
    done.set_value();
  });
  auto finished = done.get_future();
  // Without commits the producer can hand over only the first three.
  EXPECT_EQ(finished.wait_for(300ms), std::future_status::timeout);
  EXPECT_EQ(on_loop([this] { return intake_.taken.size(); }), 3u);
  for (int i = 0; i < 5 && finished.wait_for(0ms) != std::future_status::ready; ++i) {
    commit();
    finished.wait_for(200ms);  // lets the producer refill after each commit
  }
  ASSERT_EQ(finished.wait_for(5s), std::future_status::ready);
  producer.join();
  commit();
  commit();
  EXPECT_EQ(on_loop([this] { return intake_.taken; }),
            (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_GT(sink_.waited(), 0u);
  EXPECT_EQ(sink_.refused(), 0u);
  EXPECT_EQ(sink_.lost(), 0u);
}

TEST_F(LoopSinkTest, WhatTheIntakeRefusesIsHeldAndOfferedAgainInOrder) {
  // Loop adapters fill the intake after the thread's readings were admitted and before their
  // hand-over runs: the loop is kept busy (by the filling) until both pushes returned.
  std::promise<void> pushed;
  boost::asio::post(loop_, [this, admitted = pushed.get_future()] {
    intake_.depth = Intake::kCapacity;
    admitted.wait();
  });
  for (std::int64_t n = 0; n < 2; ++n)
    EXPECT_EQ(sink_.push(numbered(n)), ReadingSink::Result::accepted);
  pushed.set_value();
  EXPECT_EQ(on_loop([this] { return sink_.held(); }), 2u);
  EXPECT_TRUE(on_loop([this] { return intake_.taken.empty(); }));
  commit();
  EXPECT_EQ(on_loop([this] { return intake_.taken; }), (std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(on_loop([this] { return sink_.held(); }), 0u);
  EXPECT_EQ(sink_.lost(), 0u);
}

TEST_F(LoopSinkTest, CloseReleasesAWaitingThreadWithBackpressure) {
  for (std::int64_t n = 0; n < 3; ++n)
    ASSERT_EQ(sink_.push(numbered(n)), ReadingSink::Result::accepted);
  auto blocked = std::async(std::launch::async, [&] { return sink_.push(numbered(3)); });
  EXPECT_EQ(blocked.wait_for(200ms), std::future_status::timeout);
  on_loop([this] {
    sink_.close();
    return 0;
  });
  ASSERT_EQ(blocked.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(blocked.get(), ReadingSink::Result::backpressure);
  EXPECT_EQ(sink_.refused(), 1u);
}

// Under load the adapter thread pushes faster than the loop takes: what queued meanwhile is
// taken in one handler, not one post (and one wake-up of the loop) per reading.
TEST(LoopSinkBatching, ReadingsPushedWhileTheLoopIsBusyAreTakenInOneHandler) {
  boost::asio::io_context loop;  // not running: the pushes below come from "another thread"
  Intake intake;
  LoopSink sink{loop, intake, [&] { return intake.depth; }, Intake::kCapacity, 8, 10s};
  for (std::int64_t n = 0; n < 3; ++n)
    ASSERT_EQ(sink.push(numbered(n)), ReadingSink::Result::accepted);
  EXPECT_EQ(loop.poll(), 1u);
  EXPECT_EQ(intake.taken, (std::vector<std::int64_t>{0, 1, 2}));
  // The next reading starts a new batch.
  ASSERT_EQ(sink.push(numbered(3)), ReadingSink::Result::accepted);
  loop.restart();
  EXPECT_EQ(loop.poll(), 1u);
  EXPECT_EQ(intake.taken, (std::vector<std::int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(sink.lost(), 0u);
}

// The router and the journal as the durability marks see them: a reading with n >= 0 is
// appended and gets the next ticket; a negative one is dropped by the router (an unknown source).
class Journaling final : public ReadingSink {
 public:
  Result push(Reading r) override {
    if (std::get<std::int64_t>(r.values.front().second) >= 0) ++last_ticket;
    return Result::accepted;
  }
  std::uint64_t last_ticket = 0;
};

TEST(LoopSinkDurability, AMarkIsDurableOnceTheJournalHasDecidedWhatItAndTheOnesBeforeItAppended) {
  boost::asio::io_context loop;  // not running: the pushes come from "another thread"
  Journaling journal;
  LoopSink sink{loop, journal, [] { return std::size_t{0}; }, 100, 50, 10s};
  int commits_asked = 0;
  sink.track_durability([&] { return journal.last_ticket; }, [&] { ++commits_asked; });
  int advanced = 0;
  auto watch = sink.watch_durable([&] { ++advanced; });

  for (std::int64_t n : {0, 1, -1, 2})
    ASSERT_EQ(sink.push(numbered(n)), ReadingSink::Result::accepted);
  EXPECT_EQ(sink.mark(), 4u);
  EXPECT_EQ(sink.durable(), 0u);
  loop.poll();  // the hand-over: marks 1, 2, 3, 4 wait for tickets 1, 2, 2, 3
  EXPECT_EQ(sink.durable(), 0u);
  sink.settled(1);
  EXPECT_EQ(sink.durable(), 1u);
  EXPECT_EQ(advanced, 1);
  // The dropped reading (mark 3) waits only for the one before it.
  sink.settled(2);
  EXPECT_EQ(sink.durable(), 3u);
  EXPECT_EQ(advanced, 2);
  sink.settled(0);  // a maintenance pass decides nothing new
  EXPECT_EQ(sink.durable(), 3u);
  EXPECT_EQ(advanced, 2);
  sink.settled(3);
  EXPECT_EQ(sink.durable(), 4u);
  EXPECT_EQ(advanced, 3);

  // Several requests before the loop runs ask the journal once.
  sink.hurry();
  sink.hurry();
  loop.restart();
  loop.poll();
  EXPECT_EQ(commits_asked, 1);

  // A watcher whose handle is gone is not called.
  watch.reset();
  ASSERT_EQ(sink.push(numbered(3)), ReadingSink::Result::accepted);
  loop.restart();
  loop.poll();
  sink.settled(4);
  EXPECT_EQ(sink.durable(), 5u);
  EXPECT_EQ(advanced, 3);
}

TEST(LoopSinkDurability, WithoutTrackingEveryMarkIsDurableAtOnce) {
  boost::asio::io_context loop;
  Journaling journal;
  LoopSink sink{loop, journal, [] { return std::size_t{0}; }, 100, 50, 10s};
  ASSERT_EQ(sink.push(numbered(0)), ReadingSink::Result::accepted);
  EXPECT_EQ(sink.mark(), 1u);
  EXPECT_EQ(sink.durable(), 1u);
}

}  // namespace
}  // namespace fieldlink
