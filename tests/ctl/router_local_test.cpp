// Router::local_downlink: a request from the control socket is routed as the hub's downlink
// would be and answered through its reply, once, with no hub session at all.
#include <utility>  // before asio, for Boost 1.74 under C++20

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <deque>

#include "ctl_test_support.hpp"
#include "hub/outbox.hpp"
#include "hub/upstream.hpp"
#include "router/router.hpp"
#include "router_fakes.hpp"

namespace fieldlink {
namespace {

using test::HeldDevice;
using test::HeldQueue;
using test::NoDownlink;
using test::NoIntake;
using test::NoOutbox;
using test::QuietLog;

using namespace std::chrono_literals;

struct Answer {
  int status = 0;
  nlohmann::json payload;
  int count = 0;
};

class RouterLocal : public ::testing::Test {
 protected:
  RouterLocal()
      : upstream_(loop_, {}, outbox_, no_downlink_, log_, clock_, rng_),
        router_(
            loop_, settings(), intake_, queue_, upstream_, [](auto&, auto&) {}, {}, log_, clock_,
            rng_) {
    ctl::test::write_file(dir_ / "k.key", "a2V5", 0600);
    config::IdentityBinding b;
    b.source = "modbus://line/3";
    b.device_id = "boiler-3";
    b.key_file.path = dir_ / "k.key";
    Diagnostics d;
    auto map = IdentityMap::build({b}, d);
    EXPECT_TRUE(map) << d.to_string();
    router_.set_identities(map);
    router_.attach(device_);
  }

  static RouterSettings settings() {
    RouterSettings s;
    s.gateway_name = "site-7";
    s.gateway_identity = "gw";
    return s;
  }

  Answer* send(hub::Downlink::Kind kind, std::string device, std::string name, std::string payload,
               std::optional<std::chrono::milliseconds> timeout = {}) {
    hub::Downlink d;
    d.kind = kind;
    d.identity = Identity{DeviceId(std::move(device)), ModuleId()};
    d.name = std::move(name);
    d.payload = std::move(payload);
    d.properties = {{"color", "blue"}};
    auto* a = &answers_.emplace_back();
    router_.local_downlink(std::move(d), timeout, [a](int status, const nlohmann::json& p) {
      a->status = status;
      a->payload = p;
      ++a->count;
    });
    return a;
  }

  ctl::test::TempDir dir_;
  boost::asio::io_context loop_;
  QuietLog log_;
  ManualClock clock_;
  SeededRng rng_{7};
  NoOutbox outbox_;
  NoDownlink no_downlink_;
  NoIntake intake_;
  HeldQueue queue_;  // its deliveries are router_c2d_test's subject; here only the queueing
  hub::Upstream upstream_;
  Router router_;
  HeldDevice device_{"line"};
  std::deque<Answer> answers_;
};

TEST_F(RouterLocal, TheGatewayAnswersItsBuiltIns) {
  const auto* ping = send(hub::Downlink::Kind::method, "gw", "ping", "null");
  EXPECT_EQ(ping->count, 1);
  EXPECT_EQ(ping->status, 200);
  EXPECT_EQ(ping->payload, (nlohmann::json{{"pong", true}, {"gateway", "site-7"}}));
  const auto* other = send(hub::Downlink::Kind::method, "gw", "reboot", "null");
  EXPECT_EQ(other->status, 404);
  EXPECT_TRUE(device_.received.empty());
}

TEST_F(RouterLocal, AMethodReachesTheDeviceAndBringsBackItsAnswer) {
  const auto* a = send(hub::Downlink::Kind::method, "boiler-3", "reset", R"({"hard":true})");
  ASSERT_EQ(device_.received.size(), 1u);
  EXPECT_EQ(device_.received[0].kind, Command::Kind::method);
  EXPECT_EQ(device_.received[0].target.str(), "modbus://line/3");
  EXPECT_EQ(device_.received[0].name, "reset");
  EXPECT_EQ(device_.received[0].payload, R"({"hard":true})");
  EXPECT_EQ(a->count, 0);  // not before the device answers
  device_.pending.front()(Outcome{201, R"({"done":1})"});
  EXPECT_EQ(a->count, 1);
  EXPECT_EQ(a->status, 201);
  EXPECT_EQ(a->payload, (nlohmann::json{{"done", 1}}));
}

TEST_F(RouterLocal, AnUnknownIdentityIs404) {
  const auto* m = send(hub::Downlink::Kind::method, "nobody", "reset", "null");
  EXPECT_EQ(m->status, 404);
  const auto* c = send(hub::Downlink::Kind::c2d, "nobody", "", "open");
  EXPECT_EQ(c->count, 1);  // answered 404 once; the settlement after it adds nothing
  EXPECT_EQ(c->status, 404);
  EXPECT_TRUE(device_.received.empty());
  EXPECT_TRUE(queue_.commands.empty());
}

TEST_F(RouterLocal, ASilentDeviceIs504AfterTheCallersTimeout) {
  const auto started = std::chrono::steady_clock::now();
  const auto* a = send(hub::Downlink::Kind::method, "boiler-3", "reset", "null", 200ms);
  loop_.run_for(5s);  // ends when the timeout fires: nothing else is pending
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(a->status, 504);
  EXPECT_EQ(a->payload["error"], "the device did not answer within 200ms");
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 3s);
  device_.pending.front()(Outcome{200, "{}"});  // too late: no second answer
  EXPECT_EQ(a->count, 1);
  EXPECT_EQ(router_.counters().method_timeouts, 1u);
}

TEST_F(RouterLocal, AC2dMessageIs202OnceQueuedWithItsProperties) {
  const auto* a = send(hub::Downlink::Kind::c2d, "boiler-3", "", "open valve");
  EXPECT_EQ(a->count, 1);
  EXPECT_EQ(a->status, 202);
  ASSERT_EQ(queue_.commands.size(), 1u);
  EXPECT_EQ(queue_.commands[0].kind, Command::Kind::c2d);
  EXPECT_EQ(queue_.commands[0].target.str(), "modbus://line/3");
  EXPECT_EQ(queue_.commands[0].payload, "open valve");
  EXPECT_EQ(queue_.commands[0].properties, (Properties{{"color", "blue"}}));
  EXPECT_EQ(a->payload["message_id"], queue_.commands[0].request_id);
  EXPECT_TRUE(queue_.commands[0].request_id.starts_with("local-"));
}

TEST_F(RouterLocal, AC2dMessageTheJournalCannotStoreIs503) {
  queue_.refuse = true;
  const auto* a = send(hub::Downlink::Kind::c2d, "boiler-3", "", "open valve");
  EXPECT_EQ(a->count, 1);
  EXPECT_EQ(a->status, 503);
}

}  // namespace
}  // namespace fieldlink
