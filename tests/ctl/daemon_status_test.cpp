// The reload lines of /status that `fieldlinkctl reload` and `status` read
// (daemon/status/daemon_status.cpp).
#include "status/daemon_status.hpp"

#include <gtest/gtest.h>

namespace fieldlink {
namespace {

using namespace std::chrono_literals;

TEST(DaemonStatusReload, ARefusalKeepsItsReasonAndErrors) {
  ManualClock clock;
  DaemonStatus status(clock, "/etc/fieldlink/fieldlink.yaml");
  config::Config c;
  status.loaded(c);
  clock.advance(1s);
  Diagnostics d;
  d.add({"/etc/fieldlink/conf.d/a.yaml", 2, 9}, "hub.port", "expected a whole number");
  status.reload_errors(d);
  status.reload_failed("1 error(s)");
  nlohmann::json doc;
  status.describe(doc);
  const auto& cfg = doc["config"];
  EXPECT_EQ(cfg["reloads"], 0);
  EXPECT_EQ(cfg["reload_failures"], 1);
  EXPECT_TRUE(cfg["last_reload_failed"]);
  EXPECT_EQ(cfg["last_reload_failure"]["error"], "1 error(s)");
  EXPECT_EQ(cfg["last_reload_failure"]["at"], "2027-01-15T08:00:01.000Z");
  EXPECT_EQ(cfg["last_reload_failure"]["errors"],
            nlohmann::json::array(
                {"/etc/fieldlink/conf.d/a.yaml:2:9: hub.port: expected a whole number"}));
}

TEST(DaemonStatusReload, AFailureWithoutDiagnosticsDoesNotShowOldOnes) {
  ManualClock clock;
  DaemonStatus status(clock, "f.yaml");
  config::Config c;
  status.loaded(c);
  Diagnostics d;
  d.add({"f.yaml", 1, 1}, "", "old");
  status.reload_errors(d);
  status.reload_failed("1 error(s)");
  status.reload_failed("cannot listen on unix:/x: address in use");
  nlohmann::json doc;
  status.describe(doc);
  EXPECT_EQ(doc["config"]["reload_failures"], 2);
  EXPECT_EQ(doc["config"]["last_reload_failure"]["errors"], nlohmann::json::array());
  EXPECT_EQ(doc["config"]["last_reload_failure"]["error"],
            "cannot listen on unix:/x: address in use");
}

TEST(DaemonStatusReload, ASuccessClearsTheFlagButKeepsTheLastFailureForLateReaders) {
  ManualClock clock;
  DaemonStatus status(clock, "f.yaml");
  config::Config c;
  status.loaded(c);
  status.reload_failed("1 error(s)");
  status.loaded(c);
  nlohmann::json doc;
  status.describe(doc);
  EXPECT_EQ(doc["config"]["reloads"], 1);
  EXPECT_FALSE(doc["config"]["last_reload_failed"]);
  EXPECT_TRUE(doc["config"].contains("last_reload_failure"));
}

TEST(DaemonStatusReload, NoFailureNoFailureSection) {
  ManualClock clock;
  DaemonStatus status(clock, "f.yaml");
  config::Config c;
  status.loaded(c);
  nlohmann::json doc;
  status.describe(doc);
  EXPECT_FALSE(doc["config"].contains("last_reload_failure"));
}

}  // namespace
}  // namespace fieldlink
