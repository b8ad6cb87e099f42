#pragma once
// Hands readings from adapter threads (the MQTT adapter's network thread) to the router on the core
// loop, in order, without ever dropping one. A reading pushed on the loop itself goes straight
// through (loop adapters handle backpressure themselves: a Modbus poll is skipped and counted).
//
// Flow control: an adapter thread that pushes while `limit` readings stand between it and a
// journal commit (readings handed over but not yet in the journal's intake, plus the intake's
// own depth) waits until a commit makes room. For the local broker that means its client stops
// reading its socket, so the broker keeps the messages queued for our persistent session — the
// way to slow a QoS 1 stream down without losing what the client has already acknowledged.
// A reading the journal's intake refuses anyway (loop adapters filled it meanwhile) is held here
// and offered again, in order, after the next commit.
// The wait is bounded (`max_wait`, and close()): a push that gives up answers backpressure.
//
// Durability (ReadingSink::mark/durable): every push from an adapter thread gets the next mark.
// When the hand-over gives it to the router, the journal's latest ticket is noted beside it; the
// mark is durable once a commit report's `through` reaches that ticket. A reading the router
// appends nothing for (an unknown source) waits only for those before it. An adapter that holds
// its device's acknowledgement until then (the MQTT adapter's PUBACK) loses nothing to a SIGKILL:
// what the journal has not decided, the broker still has (nor to a power cut with
// `store.sync: full`; with `normal` the last commits may not be on the disk yet). Without
// track_durability() every mark is durable at once.
// Thread: push, mark, durable and hurry from any thread; settled(), close(), watch_durable and
// the hand-over itself on the core loop. The mutex guards the counts shared between the two
// sides and the inbox.
#include <utility>  // before asio, for Boost 1.74 under C++20

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/adapter.hpp"

namespace fieldlink {

class LoopSink final : public ReadingSink {
 public:
  // `intake_depth` reads the journal's intake on the loop (Journal::intake_depth), which takes at
  // most `intake_capacity` (JournalSettings::intake_limit); `limit` should leave room below it
  // for the loop adapters.
  LoopSink(boost::asio::io_context& loop, ReadingSink& target,
           std::function<std::size_t()> intake_depth, std::size_t intake_capacity,
           std::size_t limit = 4096, std::chrono::milliseconds max_wait = std::chrono::seconds(30))
      : loop_(loop),
        target_(target),
        intake_depth_(std::move(intake_depth)),
        intake_capacity_(intake_capacity),
        limit_(limit),
        max_wait_(max_wait) {}

  // Turns the durability marks on: `last_ticket` reads Journal::last_ticket, `commit_now` starts
  // the pending group commit (Journal::flush). Core loop, before the first push.
  void track_durability(std::function<std::uint64_t()> last_ticket,
                        std::function<void()> commit_now) {
    last_ticket_ = std::move(last_ticket);
    commit_now_ = std::move(commit_now);
  }

  Result push(Reading reading) override {
    if (loop_.get_executor().running_in_this_thread()) return target_.push(std::move(reading));
    bool first;
    {
      std::unique_lock lock(mutex_);
      if (in_hand_ + intake_ >= limit_) {
        waited_.fetch_add(1);
        if (!room_.wait_for(lock, max_wait_,
                            [this] { return closed_ || in_hand_ + intake_ < limit_; }) ||
            closed_) {
          refused_.fetch_add(1);
          return Result::backpressure;
        }
      }
      ++in_hand_;
      first = inbox_.empty();
      inbox_.push_back(std::move(reading));
      // Under the lock: marks follow the inbox's order, which is the order of the hand-over.
      pushed_.fetch_add(1, std::memory_order_release);
    }
    // One post per batch, not per reading: while the loop is busy the readings queue here and
    // are taken together, which spares a post, a wake-up of the loop and two lock round trips
    // between the threads per reading under load.
    if (first) boost::asio::post(loop_, [this] { take_inbox(); });
    return Result::accepted;
  }

  std::uint64_t mark() const override { return pushed_.load(std::memory_order_acquire); }
  std::uint64_t durable() const override {
    return (last_ticket_ ? durable_ : pushed_).load(std::memory_order_acquire);
  }
  std::shared_ptr<void> watch_durable(std::function<void()> advanced) override {
    auto watcher = std::make_shared<std::function<void()>>(std::move(advanced));
    watchers_.push_back(watcher);
    return watcher;
  }
  void hurry() override {
    if (!commit_now_ || hurry_posted_.exchange(true)) return;
    boost::asio::post(loop_, [this] {
      hurry_posted_ = false;
      commit_now_();
    });
  }

  // Core loop: a group commit ran, deciding the appends through ticket `through` (0 when it
  // carried none); offer what the intake refused, and wake waiting threads.
  void settled(std::uint64_t through) {
    decided_ = std::max(decided_, through);
    std::size_t given = 0;
    while (!held_.empty() && intake_depth_() < intake_capacity_) {
      give(std::move(held_.front()));
      held_.pop_front();
      ++given;
    }
    release(given);
  }

  // Core loop, at shutdown: threads still waiting give up (their adapters are stopping).
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    room_.notify_all();
  }

  std::uint64_t refused() const { return refused_.load(); }  // pushes that gave up waiting
  std::uint64_t waited() const { return waited_.load(); }    // pushes that had to wait
  std::size_t held() const { return held_.size(); }
  std::uint64_t lost() const { return lost_.load(); }  // refused with room: must stay 0

 private:
  void take_inbox() {
    {
      std::lock_guard lock(mutex_);
      taking_.swap(inbox_);
    }
    std::size_t given = 0;
    for (auto& reading : taking_) {
      // Behind readings already held, or no room now: held, in order, for the next commit.
      if (!held_.empty() || intake_depth_() >= intake_capacity_) {
        held_.push_back(std::move(reading));
      } else {
        give(std::move(reading));
        ++given;
      }
    }
    taking_.clear();  // keeps its capacity for the next batch
    release(given);
  }
  // `given` readings have left our hands: waiting pushers may have room now, and marks whose
  // tickets are decided are durable.
  void release(std::size_t given) {
    {
      std::lock_guard lock(mutex_);
      in_hand_ -= given;
      intake_ = intake_depth_();
      room_.notify_all();
    }
    if (!last_ticket_) return;
    std::uint64_t durable = durable_.load(std::memory_order_relaxed);
    while (!awaiting_.empty() && awaiting_.front().ticket <= decided_) {
      durable = awaiting_.front().mark;
      awaiting_.pop_front();
    }
    if (durable == durable_.load(std::memory_order_relaxed)) return;
    durable_.store(durable, std::memory_order_release);
    std::erase_if(watchers_, [](const auto& w) { return w.expired(); });
    // By index, not over a copy (an allocation per commit): a watcher that adds another only
    // appends, and the lock keeps the one called alive.
    for (std::size_t i = 0; i < watchers_.size(); ++i) {
      if (auto watcher = watchers_[i].lock()) (*watcher)();
    }
  }
  // Only called with room in the intake, and the loop runs nothing in between: the router
  // takes it (or drops it by policy, e.g. an unknown source, which is its to count).
  // The caller takes it off in_hand_.
  void give(Reading reading) {
    if (target_.push(std::move(reading)) == Result::backpressure) lost_.fetch_add(1);
    if (!last_ticket_) return;
    // Whatever the router appended for it has a ticket up to the journal's latest.
    const Awaiting a{++given_, last_ticket_()};
    if (!awaiting_.empty() && awaiting_.back().ticket == a.ticket) {
      awaiting_.back().mark = a.mark;
    } else {
      awaiting_.push_back(a);
    }
  }

  struct Awaiting {
    std::uint64_t mark;    // durable once...
    std::uint64_t ticket;  // ...the journal has decided this append
  };

  boost::asio::io_context& loop_;
  ReadingSink& target_;
  std::function<std::size_t()> intake_depth_;
  const std::size_t intake_capacity_;
  const std::size_t limit_;
  const std::chrono::milliseconds max_wait_;
  std::mutex mutex_;
  std::condition_variable room_;
  std::size_t in_hand_ = 0;     // in the inbox or held, not yet taken by the router
  std::vector<Reading> inbox_;  // pushed, not yet taken by the loop; guarded by mutex_
  std::size_t intake_ = 0;      // the journal's intake depth, as last seen on the loop
  bool closed_ = false;
  std::vector<Reading> taking_;  // core loop only: the inbox being handed over
  std::deque<Reading> held_;     // core loop only
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::uint64_t> waited_{0};
  std::atomic<std::uint64_t> lost_{0};

  // Durability; the atomics are read from adapter threads, the rest is the core loop's.
  std::function<std::uint64_t()> last_ticket_;
  std::function<void()> commit_now_;
  std::atomic<std::uint64_t> pushed_{0};   // marks handed out (guarded by mutex_ when written)
  std::atomic<std::uint64_t> durable_{0};  // marks whose readings are decided
  std::atomic<bool> hurry_posted_{false};
  std::uint64_t given_ = 0;        // marks given to the router
  std::uint64_t decided_ = 0;      // the journal's tickets decided so far
  std::deque<Awaiting> awaiting_;  // given, not yet decided; one entry per distinct ticket
  std::vector<std::weak_ptr<std::function<void()>>> watchers_;
};

}  // namespace fieldlink
