// report: change with deadband and heartbeat, on a hand-driven clock.
#include <gtest/gtest.h>

#include "adapters/modbus/report_filter.hpp"

namespace fieldlink::modbus {
namespace {

using namespace std::chrono_literals;
using Values = ReportFilter::Values;

Values v(double x) {
  return {{"p", x}};
}

TEST(ReportFilter, AlwaysPointsAreAlwaysReported) {
  DeviceMap d;
  d.points.resize(1);
  ReportFilter f(d);
  const std::chrono::steady_clock::time_point t{1h};
  EXPECT_TRUE(f.keep(0, v(1), t));
  EXPECT_TRUE(f.keep(0, v(1), t + 1s));
}

TEST(ReportFilter, ChangeWithDeadbandAndHeartbeat) {
  DeviceMap d;
  d.points.resize(1);
  d.points[0].report = Report::change;
  d.points[0].deadband = 0.5;
  d.points[0].heartbeat = 60s;
  ReportFilter f(d);
  const std::chrono::steady_clock::time_point t{1h};
  EXPECT_TRUE(f.keep(0, v(10.0), t));         // first value
  EXPECT_FALSE(f.keep(0, v(10.3), t + 1s));   // within the deadband
  EXPECT_FALSE(f.keep(0, v(10.45), t + 2s));  // still within it, measured from 10.0
  EXPECT_TRUE(f.keep(0, v(10.5), t + 3s));    // drifted a whole deadband from the last report
  EXPECT_FALSE(f.keep(0, v(10.5), t + 62s));  // 59 s since the last report
  EXPECT_TRUE(f.keep(0, v(10.5), t + 63s));   // heartbeat
  f.reset();                                  // the device came back online
  EXPECT_TRUE(f.keep(0, v(10.5), t + 64s));
}

TEST(ReportFilter, ChangeWithoutDeadbandReportsAnyChange) {
  DeviceMap d;
  d.points.resize(1);
  d.points[0].report = Report::change;
  ReportFilter f(d);
  const std::chrono::steady_clock::time_point t{1h};
  EXPECT_TRUE(f.keep(0, {{"s", std::string("a")}}, t));
  EXPECT_FALSE(f.keep(0, {{"s", std::string("a")}}, t + 1s));
  EXPECT_TRUE(f.keep(0, {{"s", std::string("b")}}, t + 2s));
}

}  // namespace
}  // namespace fieldlink::modbus
