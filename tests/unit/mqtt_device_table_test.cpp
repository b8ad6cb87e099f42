// The MQTT adapter's device table: presence changes are reported once each, retried until
// reported, and a device that comes back to its last reported state has nothing to report.
#include "adapters/mqtt/device_table.hpp"

#include <gtest/gtest.h>

namespace fieldlink::mqtt {
namespace {

using namespace std::chrono_literals;
using Presence = std::vector<std::pair<std::string, bool>>;

class DeviceTableTest : public ::testing::Test {
 protected:
  void seen(const std::string& key) { table_.seen(key, now_, {}, true); }
  void report_all() {
    for (const auto& [key, online] : table_.unreported_presence())
      table_.presence_reported(key, online);
  }

  DeviceTable table_{10s};
  DeviceTable::Steady now_{};
};

TEST_F(DeviceTableTest, EachChangeIsReportedOnceAndRetriedUntilReported) {
  seen("b");
  seen("a");
  seen("a");
  EXPECT_EQ(table_.unreported_presence(), (Presence{{"a", true}, {"b", true}}));
  EXPECT_EQ(table_.unreported_presence().size(), 2u);  // not reported yet: still there
  table_.presence_reported("a", true);
  EXPECT_EQ(table_.unreported_presence(), (Presence{{"b", true}}));
  table_.presence_reported("b", true);
  seen("a");
  EXPECT_TRUE(table_.unreported_presence().empty());

  now_ += 10s;
  seen("b");
  table_.expire(now_);
  EXPECT_EQ(table_.unreported_presence(), (Presence{{"a", false}}));
  report_all();
  EXPECT_TRUE(table_.unreported_presence().empty());
  EXPECT_EQ(table_.online("a"), false);
  EXPECT_EQ(table_.online("b"), true);
}

TEST_F(DeviceTableTest, ADeviceBackToItsReportedStateHasNothingToReport) {
  seen("a");
  report_all();
  now_ += 10s;
  table_.expire(now_);  // offline, not reported yet...
  seen("a");            // ...and back before anyone heard
  EXPECT_TRUE(table_.unreported_presence().empty());
  EXPECT_EQ(table_.online("a"), true);
}

}  // namespace
}  // namespace fieldlink::mqtt
