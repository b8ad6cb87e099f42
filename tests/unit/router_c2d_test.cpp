// The router's C2D delivery from the durable queue: each queued message reaches its device once
// per attempt, even when the queue's answer to "what is due" was computed before an attempt
// settled (the queue answers on its own thread in the daemon; here the test holds the answers).
#include <utility>  // before asio, for Boost 1.74 under C++20

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <deque>
#include <map>

#include "hub/outbox.hpp"
#include "hub/upstream.hpp"
#include "router/router.hpp"
#include "router_fakes.hpp"

namespace fieldlink {
namespace {

using namespace std::chrono_literals;
using test::NoDownlink;
using test::NoIntake;
using test::NoOutbox;
using test::QuietLog;

// The queue as the journal keeps it, with the answers to `due` held until the test releases
// them, so a stale answer can be produced on purpose.
class HeldQueue final : public CommandQueue {
 public:
  void put(Command command, std::chrono::system_clock::time_point expires,
           std::function<void(std::int64_t, const std::string&)> stored) override {
    const auto id = ++last_id_;
    queued_.emplace(id, QueuedCommand{id, std::move(command), expires, 0});
    stored(id, "");
  }
  void due(std::size_t, std::function<void(std::vector<QueuedCommand>)> done) override {
    std::vector<QueuedCommand> now;  // computed when asked, as the journal's lane does
    for (const auto& [id, q] : queued_) {
      if (!retry_at_.contains(id)) now.push_back(q);
    }
    held_.emplace_back(std::move(now), std::move(done));
  }
  void attempted(std::int64_t id, std::chrono::system_clock::time_point at) override {
    retry_at_[id] = at;
    ++queued_.at(id).attempts;
  }
  void done(std::int64_t id) override { queued_.erase(id); }

  // Makes every retry due again (time passing, in the queue's terms).
  void retries_due() { retry_at_.clear(); }
  std::size_t held() const { return held_.size(); }
  void release_oldest() {
    auto [answer, done] = std::move(held_.front());
    held_.pop_front();
    done(std::move(answer));
  }
  std::size_t size() const { return queued_.size(); }

 private:
  std::int64_t last_id_ = 0;
  std::map<std::int64_t, QueuedCommand> queued_;
  std::map<std::int64_t, std::chrono::system_clock::time_point> retry_at_;
  std::deque<std::pair<std::vector<QueuedCommand>, std::function<void(std::vector<QueuedCommand>)>>>
      held_;
};

// A device whose answers the test gives when it chooses.
class HeldAdapter final : public Adapter {
 public:
  const AdapterName& name() const override { return name_; }
  void start() override {}
  void stop(std::function<void()> done) override { done(); }
  void execute(const Command& command, OutcomeHandler handler) override {
    received.push_back(command.request_id);
    pending.push_back(std::move(handler));
  }
  void describe(nlohmann::json&) const override {}
  void answer(int status) {
    auto handler = std::move(pending.front());
    pending.pop_front();
    handler(Outcome{status, "{}"});
  }

  std::vector<std::string> received;
  std::deque<OutcomeHandler> pending;

 private:
  AdapterName name_{"plant"};
};

class RouterC2d : public ::testing::Test {
 protected:
  RouterC2d()
      : upstream_(loop_, {}, outbox_, no_downlink_, log_, clock_, rng_),
        router_(
            loop_, settings(), intake_, queue_, upstream_, [](auto&, auto&) {}, {}, log_, clock_,
            rng_) {
    router_.attach(device_);
  }
  ~RouterC2d() override { loop_.stop(); }

  static RouterSettings settings() {
    RouterSettings s;
    s.gateway_identity = "gw";
    s.gateway_mode = true;
    return s;
  }
  // A C2D message for mqtt://plant/s1 on the gateway's identity (gateway mode: the target travels
  // as a property); returns how the router settled it with the session.
  std::optional<hub::Settle> c2d(const std::string& id) {
    hub::Downlink d;
    d.kind = hub::Downlink::Kind::c2d;
    d.identity = Identity{DeviceId("gw"), ModuleId()};
    d.id = id;
    d.payload = "open";
    d.properties = {{"fieldlink-target", "mqtt://plant/s1"}};
    std::optional<hub::Settle> settled;
    router_.downlink(std::move(d), [&](hub::Settle s) { settled = s; });
    return settled;
  }

  boost::asio::io_context loop_;
  QuietLog log_;
  ManualClock clock_;
  SeededRng rng_{7};
  NoOutbox outbox_;
  NoDownlink no_downlink_;
  NoIntake intake_;
  HeldQueue queue_;
  HeldAdapter device_;
  hub::Upstream upstream_;
  Router router_;
};

TEST_F(RouterC2d, AStaleAnswerDoesNotDeliverASettledMessageAgain) {
  router_.start();                           // asks: nothing queued yet
  EXPECT_EQ(c2d("m1"), hub::Settle::taken);  // stored, so acknowledged; asks again
  ASSERT_EQ(queue_.held(), 2u);
  queue_.release_oldest();  // the empty answer
  queue_.release_oldest();  // m1 is due
  ASSERT_EQ(device_.received, (std::vector<std::string>{"m1"}));

  EXPECT_EQ(c2d("m2"), hub::Settle::taken);  // asks while m1 is still with the device
  device_.answer(200);                       // m1 done, after that question was asked
  queue_.release_oldest();                   // stale: still lists m1, and m2
  EXPECT_EQ(device_.received, (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(router_.counters().c2d_delivered, 1u);
  device_.answer(200);
  EXPECT_EQ(queue_.size(), 0u);
  EXPECT_EQ(router_.counters().c2d_delivered, 2u);
}

TEST_F(RouterC2d, AMessageForAnUnreachableDeviceIsTriedAgainWhenDueAgain) {
  router_.start();
  EXPECT_EQ(c2d("m1"), hub::Settle::taken);
  queue_.release_oldest();
  queue_.release_oldest();
  ASSERT_EQ(device_.received.size(), 1u);

  EXPECT_EQ(c2d("m2"), hub::Settle::taken);  // a question asked before m1's attempt settles
  device_.answer(504);                       // unreachable: retry later
  queue_.release_oldest();  // asked before the retry was recorded: its m1 is not taken
  EXPECT_EQ(device_.received, (std::vector<std::string>{"m1", "m2"}));

  queue_.retries_due();
  EXPECT_EQ(c2d("m3"), hub::Settle::taken);  // asked after the retry was recorded and is due
  queue_.release_oldest();
  EXPECT_EQ(device_.received, (std::vector<std::string>{"m1", "m2", "m1", "m3"}));
  EXPECT_EQ(router_.counters().c2d_retries, 1u);
}

}  // namespace
}  // namespace fieldlink
