#pragma once
// Runs an Upstream on its own core-loop thread for integration tests, with an in-memory outbox
// and a downlink recorder the test thread can wait on.
#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>
#include <thread>

#include "core/clock.hpp"
#include "core/rng.hpp"
#include "hub/mqtt/tls_context.hpp"
#include "hub/upstream.hpp"
#include "memory_outbox.hpp"

namespace fieldlink::testing {

class StderrLogger final : public Logger {
 public:
  void log(LogLevel level, const LogFields&, std::string_view message) override {
    std::lock_guard lock(mutex_);
    std::cerr << "[fieldlink " << static_cast<int>(level) << "] " << message << "\n";
  }

 private:
  std::mutex mutex_;
};

class DownlinkRecorder final : public hub::DownlinkHandler {
 public:
  // Runs on the core loop for each method request; answers it.
  std::function<void(const hub::Downlink&)> on_method;
  // How many C2D messages to abandon (as a full journal would) before taking them.
  int abandon_c2d = 0;

  void downlink(hub::Downlink d, hub::SettleDownlink complete) override {
    if (d.kind == hub::Downlink::Kind::method && on_method) on_method(d);
    if (d.kind == hub::Downlink::Kind::c2d && abandon_c2d > 0) {
      --abandon_c2d;
      complete(hub::Settle::abandoned);
    } else {
      complete(hub::Settle::taken);
    }
    std::lock_guard lock(mutex_);
    received_.push_back(std::move(d));
    changed_.notify_all();
  }

  // Waits for the n-th downlink (1-based) and returns a copy of all received so far.
  std::vector<hub::Downlink> wait_count(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return received_.size() >= n; });
    return received_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<hub::Downlink> received_;
};

class UpstreamHarness {
 public:
  explicit UpstreamHarness(hub::UpstreamSettings settings = {})
      : upstream_(loop_, settings, outbox_, downlink_, log_, clock_, rng_) {
    // One handler at a time, so that a waiting predicate is looked at after each: session state
    // changes only inside the loop's handlers, so this sees every change as it happens.
    thread_ = std::thread([this] {
      while (loop_.run_one() > 0) {
        if (waiter_ && waiter_()) {
          waiter_ = nullptr;
          waited_.set_value();
        }
      }
    });
  }
  // Runs `f` on the core loop and waits for it.
  template <class F>
  auto run(F&& f) {
    std::packaged_task<decltype(f())()> task(std::forward<F>(f));
    auto result = task.get_future();
    boost::asio::post(loop_, [&task] { task(); });
    return result.get();
  }

  // Waits until `pred` holds; false at the deadline. `pred` reads state the core loop owns, so
  // it runs there: at once, then after every handler the loop runs (any change of session state
  // happens in one), never on a timer.
  template <class P>
  bool wait_until(P pred, std::chrono::milliseconds timeout) {
    auto done = run([&] {
      waited_ = {};
      auto future = waited_.get_future();
      if (pred()) {
        waited_.set_value();
      } else {
        waiter_ = [&pred] { return static_cast<bool>(pred()); };
      }
      return future;
    });
    if (done.wait_for(timeout) == std::future_status::ready) return true;
    run([this] { waiter_ = nullptr; });  // `pred` goes out of scope with this call
    return false;
  }

  ~UpstreamHarness() {
    run([this] { upstream_.stop(); });
    guard_.reset();
    loop_.stop();
    thread_.join();
  }

  // Adds messages "m0".."m{n-1}" (JSON bodies with a sequence) for an identity and wakes it.
  void send(const Identity& id, int from, int count) {
    for (int i = from; i < from + count; ++i) {
      Message m;
      m.identity = id;
      m.id = id.client_id() + "-" + std::to_string(i);
      m.body = std::make_shared<const std::string>("{\"n\":" + std::to_string(i) + "}");
      m.content_type = "application/json";
      m.content_encoding = "utf-8";
      m.properties = {{"seq", std::to_string(i)}};
      m.created = std::chrono::system_clock::now();
      outbox_.add(id, std::move(m));
    }
    run([this, id] { upstream_.notify(id); });
  }

  hub::Upstream& upstream() { return upstream_; }
  MemoryOutbox& outbox() { return outbox_; }
  DownlinkRecorder& downlink() { return downlink_; }

 private:
  boost::asio::io_context loop_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_{
      loop_.get_executor()};
  SystemClock clock_;
  SystemRng rng_;
  StderrLogger log_;
  MemoryOutbox outbox_;
  DownlinkRecorder downlink_;
  hub::Upstream upstream_;
  std::function<bool()> waiter_;  // core loop only: the predicate wait_until waits for
  std::promise<void> waited_;     // core loop only
  std::thread thread_;
};

}  // namespace fieldlink::testing
