// Downlink parsing and outcomes: invalid commands are refused whole with 400 before anything is
// written; bus results become 200/502/504 with the Modbus exception code; desired patches are
// acknowledged per property in the twin's writable-property convention.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "adapters/modbus/device_command.hpp"

namespace fieldlink::modbus {
namespace {

using K = PointType::Kind;
using nlohmann::json;

DeviceMap boiler() {
  DeviceMap d;
  d.unit = 3;
  Point sp;
  sp.name = "setpoint";
  sp.table = Table::holding;
  sp.address = 110;
  sp.type = {K::int16};
  sp.scale = 0.1;
  sp.writable = true;
  sp.min = 5;
  sp.max = 90;
  Point total = sp;
  total.name = "total";
  total.address = 120;
  total.type = {K::float64};
  total.scale = 1;
  total.min.reset();
  total.max.reset();
  Point burner;
  burner.name = "burner";
  burner.table = Table::coil;
  burner.type = {K::boolean};
  burner.writable = true;
  Point temp;
  temp.name = "temp";
  temp.table = Table::input;
  temp.type = {K::float32};
  d.points = {sp, total, burner, temp};
  return d;
}

TEST(DeviceCommand, ASingleWriteIsEncodedByTypeAndScale) {
  Outcome bad;
  const auto c = DeviceCommand::write(boiler(), R"({"point": "setpoint", "value": 21.5})", bad);
  ASSERT_TRUE(c) << bad.payload;
  ASSERT_EQ(c->writes.size(), 1u);
  EXPECT_EQ(c->writes[0].point, 0u);
  EXPECT_EQ(c->writes[0].words, std::vector<std::uint16_t>{215});
  const auto ok = c->outcome({LinkStatus::success()});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(json::parse(ok.payload),
            (json{{"status", 200}, {"point", "setpoint"}, {"value", 21.5}}));
}

TEST(DeviceCommand, SeveralPointsAreWrittenInTheGivenOrder) {
  Outcome bad;
  const auto c = DeviceCommand::write(
      boiler(), R"({"points": {"total": 1.25, "burner": true, "setpoint": 40}})", bad);
  ASSERT_TRUE(c) << bad.payload;
  ASSERT_EQ(c->names, (std::vector<std::string>{"total", "burner", "setpoint"}));
  EXPECT_EQ(c->writes[0].words.size(), 4u);  // one FC16 request for the whole float64
  EXPECT_EQ(c->writes[1].words, std::vector<std::uint16_t>{1});
}

TEST(DeviceCommand, AnInvalidValueRefusesTheWholeCommand) {
  for (const auto* payload :
       {R"({"point": "setpoint", "value": 95})", R"({"point": "setpoint", "value": 21.55})",
        R"({"point": "temp", "value": 1})", R"({"point": "nope", "value": 1})",
        R"({"points": {"burner": true, "setpoint": "hot"}})", R"({"value": 1})", "not json"}) {
    Outcome bad;
    EXPECT_FALSE(DeviceCommand::write(boiler(), payload, bad)) << payload;
    EXPECT_EQ(bad.status, 400) << payload;
    EXPECT_NE(bad.payload.find("message"), std::string::npos);
  }
}

TEST(DeviceCommand, BusFailuresBecome502And504) {
  Outcome bad;
  auto c = DeviceCommand::write(boiler(), R"({"point": "setpoint", "value": 20})", bad);
  auto o = c->outcome({{LinkStatus::Kind::exception, 2, "Illegal data address"}});
  EXPECT_EQ(o.status, 502);
  EXPECT_EQ(json::parse(o.payload)["exception"], 2);
  o = c->outcome({{LinkStatus::Kind::timeout, 110, "Connection timed out"}});
  EXPECT_EQ(o.status, 504);
  c = DeviceCommand::write(boiler(), R"({"points": {"burner": true, "setpoint": 40}})", bad);
  o = c->outcome({LinkStatus::success(), {LinkStatus::Kind::exception, 4, "Slave failure"}});
  EXPECT_EQ(o.status, 502);
  const auto j = json::parse(o.payload);
  EXPECT_EQ(j["points"]["burner"]["status"], 200);
  EXPECT_EQ(j["points"]["setpoint"]["exception"], 4);
}

TEST(DeviceCommand, DesiredPropertiesAreAcknowledgedOneByOne) {
  Outcome bad;
  const auto c = DeviceCommand::desired(
      boiler(), R"({"setpoint": 22, "temp": 3, "colour": "red", "$version": 7})", bad);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->names, std::vector<std::string>{"setpoint"});
  const auto o = c->outcome({LinkStatus::success()});
  EXPECT_EQ(o.status, 400);  // two properties could not be applied
  const auto j = json::parse(o.payload);
  EXPECT_EQ(j["setpoint"], (json{{"value", 22}, {"ac", 200}, {"av", 7}, {"ad", "written"}}));
  EXPECT_EQ(j["temp"]["ac"], 400);
  EXPECT_EQ(j["colour"]["ac"], 400);
}

TEST(DeviceCommand, ReadOutcomeCarriesValuesAndUtcTime) {
  JobResult r;
  r.values = {{"temp", 21.5}, {"burner", true}};
  r.sampled_at = std::chrono::system_clock::time_point{std::chrono::milliseconds{1800000000123}};
  const auto o = read_outcome(r);
  EXPECT_EQ(o.status, 200);
  EXPECT_EQ(json::parse(o.payload), (json{{"sampled_at", "2027-01-15T08:00:00.123Z"},
                                          {"values", {{"temp", 21.5}, {"burner", true}}}}));
  r.read = {LinkStatus::Kind::timeout, 110, "no answer"};
  EXPECT_EQ(read_outcome(r).status, 504);
}

}  // namespace
}  // namespace fieldlink::modbus
