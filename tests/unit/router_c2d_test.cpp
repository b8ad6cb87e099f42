// The router's C2D delivery from the durable queue: each queued message reaches its device once
// per attempt, even when the queue's answer to "what is due" was computed before an attempt
// settled (the queue answers on its own thread in the daemon; here the test holds the answers).
#include <utility>  // before asio, for Boost 1.74 under C++20

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "hub/outbox.hpp"
#include "hub/upstream.hpp"
#include "router/router.hpp"
#include "router_fakes.hpp"

namespace fieldlink {
namespace {

using namespace std::chrono_literals;
using test::HeldDevice;
using test::HeldQueue;
using test::NoDownlink;
using test::NoIntake;
using test::NoOutbox;
using test::QuietLog;

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
  HeldDevice device_{"plant"};
  hub::Upstream upstream_;
  Router router_;
};

TEST_F(RouterC2d, AStaleAnswerDoesNotDeliverASettledMessageAgain) {
  router_.start();                           // asks: nothing queued yet
  EXPECT_EQ(c2d("m1"), hub::Settle::taken);  // stored, so acknowledged; asks again
  ASSERT_EQ(queue_.held(), 2u);
  queue_.release_oldest();  // the empty answer
  queue_.release_oldest();  // m1 is due
  ASSERT_EQ(device_.received_ids(), (std::vector<std::string>{"m1"}));

  EXPECT_EQ(c2d("m2"), hub::Settle::taken);  // asks while m1 is still with the device
  device_.answer(200);                       // m1 done, after that question was asked
  queue_.release_oldest();                   // stale: still lists m1, and m2
  EXPECT_EQ(device_.received_ids(), (std::vector<std::string>{"m1", "m2"}));
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
  EXPECT_EQ(device_.received_ids(), (std::vector<std::string>{"m1", "m2"}));

  queue_.retries_due();
  EXPECT_EQ(c2d("m3"), hub::Settle::taken);  // asked after the retry was recorded and is due
  queue_.release_oldest();
  EXPECT_EQ(device_.received_ids(), (std::vector<std::string>{"m1", "m2", "m1", "m3"}));
  EXPECT_EQ(router_.counters().c2d_retries, 1u);
}

}  // namespace
}  // namespace fieldlink
