// The top-level `devices` section of /status, as the router fills it: every device an adapter
// lists and every source it took telemetry from, with the identity each travels on, its last
// reading and its errors.
#include <utility>  // before asio, for Boost 1.74 under C++20

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "config_test_support.hpp"
#include "core/utc_time.hpp"
#include "identity-map/identity_map.hpp"
#include "router/router.hpp"
#include "router_fakes.hpp"
#include "status/device_list.hpp"

namespace fieldlink {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// An adapter whose own /status section lists devices as the Modbus adapter does.
class ListingAdapter final : public Adapter {
 public:
  const AdapterName& name() const override { return name_; }
  void start() override {}
  void stop(std::function<void()> done) override { done(); }
  void execute(const Command&, OutcomeHandler handler) override { handler(Outcome{404, "{}"}); }
  void describe(json& out) const override {
    out = {{"type", "modbus-tcp"},
           {"devices",
            {{{"source", "modbus://line/1"}, {"timeouts", 2}, {"last_error", "timed out"}},
             {{"source", "modbus://line/2"}, {"exceptions", {{"2", 1}, {"4", 3}}}}}}};
  }

 private:
  AdapterName name_{"line"};
};

class RouterDevices : public ::testing::Test {
 protected:
  RouterDevices()
      : upstream_(loop_, {}, outbox_, no_downlink_, log_, clock_, rng_),
        router_(
            loop_, {}, intake_, commands_, upstream_, [](auto&, auto&) {}, {}, log_, clock_, rng_) {
    config::IdentityBinding b;
    b.source = "modbus://line/1";
    b.device_id = "boiler-1";
    b.key_file.path = dir_.write("k.key", "a2V5a2V5a2V5a2V5a2V5a2V5\n");
    Diagnostics d;
    auto map = IdentityMap::build({b}, d);
    EXPECT_TRUE(map) << d.to_string();
    router_.set_identities(std::move(map));
    router_.attach(adapter_);
  }
  ~RouterDevices() override { loop_.stop(); }

  Reading telemetry(const char* source, std::chrono::system_clock::time_point at) {
    return Reading{
        *SourceAddress::parse(source), at, {{"t", 1.0}}, Quality::good, ReadingKind::telemetry};
  }
  // The devices section by source.
  std::map<std::string, json> devices() {
    json status{{"devices", json::array()}};
    router_.describe(status);
    std::map<std::string, json> out;
    for (const auto& d : status.at("devices"))
      out[d.at("source").get<std::string>()] = d;
    return out;
  }

  fieldlink::testing::TempDir dir_;
  boost::asio::io_context loop_;
  test::QuietLog log_;
  ManualClock clock_;
  SeededRng rng_{7};
  test::NoOutbox outbox_;
  test::NoDownlink no_downlink_;
  test::NoIntake intake_;
  test::NoCommands commands_;
  ListingAdapter adapter_;
  hub::Upstream upstream_;
  Router router_;
};

TEST_F(RouterDevices, ListsEachKnownDeviceWithIdentityLastReadingAndErrors) {
  const auto t1 = clock_.wall_now() - 5s;
  const auto t2 = clock_.wall_now();
  EXPECT_EQ(router_.push(telemetry("modbus://line/1", t1)), ReadingSink::Result::accepted);
  EXPECT_EQ(router_.push(telemetry("modbus://line/1", t2)), ReadingSink::Result::accepted);
  // No binding and unknown_sources: reject — dropped, which is an error of that device.
  router_.push(telemetry("modbus://line/9", t2));
  router_.push(telemetry("modbus://line/9", t2));
  // The adapter's statement about presence is not a reading of the device.
  router_.push(Reading{*SourceAddress::parse("modbus://line/2"),
                       t2,
                       {{"fieldlink.online", true}},
                       Quality::good,
                       ReadingKind::reported});

  const auto d = devices();
  ASSERT_EQ(d.size(), 3u);
  const auto& one = d.at("modbus://line/1");
  EXPECT_EQ(one.at("adapter"), "line");
  EXPECT_EQ(one.at("identity"), "boiler-1");
  EXPECT_EQ(one.at("last_reading"), utc_iso8601(t2));
  EXPECT_EQ(one.at("readings"), 2);
  EXPECT_EQ(one.at("errors"), 2);
  EXPECT_EQ(one.at("last_error"), "timed out");
  // Listed by its adapter, never read: no identity bound, no reading yet, its exceptions summed.
  const auto& two = d.at("modbus://line/2");
  EXPECT_EQ(two.at("identity"), "");
  EXPECT_TRUE(two.at("last_reading").is_null());
  EXPECT_EQ(two.at("readings"), 0);
  EXPECT_EQ(two.at("errors"), 4);
  const auto& nine = d.at("modbus://line/9");
  EXPECT_EQ(nine.at("adapter"), "line");
  EXPECT_EQ(nine.at("readings"), 0);
  EXPECT_EQ(nine.at("errors"), 2);
}

TEST(DeviceList, ObjectKeyedDevicesAreNamedByTheAdaptersTypeAndTheGatewayTakesUnbound) {
  DeviceList list;
  list.add_adapter("plant", {{"type", "mqtt"},
                             {"devices", {{"s1", {{"invalid", 3}}}, {"s2", {{"messages", 1}}}}}});
  list.add_adapter("ble0", {{"type", "ble"}, {"advertisers", {{{"source", "ble://ble0/AA:BB"}}}}});
  const auto out =
      list.to_json([](const std::string& s) { return s == "mqtt://plant/s1" ? "plant-s1" : "gw"; });
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].at("source"), "ble://ble0/AA:BB");
  EXPECT_EQ(out[0].at("identity"), "gw");
  EXPECT_EQ(out[1].at("source"), "mqtt://plant/s1");
  EXPECT_EQ(out[1].at("identity"), "plant-s1");
  EXPECT_EQ(out[1].at("errors"), 3);
  EXPECT_EQ(out[2].at("source"), "mqtt://plant/s2");
  EXPECT_EQ(out[2].at("errors"), 0);
}

}  // namespace
}  // namespace fieldlink
