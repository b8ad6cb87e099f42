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
// What this still does not give: a SIGKILL or power cut loses what was handed over and not yet
// committed — at most `limit` readings plus one commit interval (see the fault suite's figures).
// Thread: push from any thread; settled(), close() and the hand-over itself on the core loop.
// The mutex guards the counts shared between the two sides and the inbox.
#include <utility>  // before asio, for Boost 1.74 under C++20

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
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
    }
    // One post per batch, not per reading: while the loop is busy the readings queue here and
    // are taken together, which spares a post, a wake-up of the loop and two lock round trips
    // between the threads per reading under load.
    if (first) boost::asio::post(loop_, [this] { take_inbox(); });
    return Result::accepted;
  }

  // Core loop: a group commit ran; offer what the intake refused, and wake waiting threads.
  void settled() {
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
  // `given` readings have left our hands: waiting pushers may have room now.
  void release(std::size_t given) {
    std::lock_guard lock(mutex_);
    in_hand_ -= given;
    intake_ = intake_depth_();
    room_.notify_all();
  }
  // Only called with room in the intake, and the loop runs nothing in between: the router
  // takes it (or drops it by policy, e.g. an unknown source, which is its to count).
  // The caller takes it off in_hand_.
  void give(Reading reading) {
    if (target_.push(std::move(reading)) == Result::backpressure) lost_.fetch_add(1);
  }

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
};

}  // namespace fieldlink
