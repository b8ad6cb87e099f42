#include "status_view.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "ctl_test_support.hpp"
#include "device_rows.hpp"

namespace fieldlink::ctl {
namespace {

using nlohmann::json;

json fixture() {
  return json::parse(test::read_file(FIELDLINK_CTL_TEST_DATA "/status.json"));
}

const auto kNow = *parse_utc("2026-11-26T12:00:00.000Z");

std::vector<config::IdentityBinding> bindings() {
  config::IdentityBinding fixed;
  fixed.source = "modbus://line/3";
  fixed.device_id = "boiler-3";
  config::IdentityBinding family;
  family.source = "mqtt://plant/+";
  family.device_id = "plant-{1}";
  return {fixed, family};
}

TEST(StatusView, RendersEverySection) {
  const auto b = bindings();
  const auto text = render_status(fixture(), &b, kNow, Palette{});
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "fieldlinkd 0.1.0  pid 4242  up 1d 01:01:01  UNHEALTHY");
  EXPECT_NE(text.find("  problem: session boiler-3: offline for 5m\n"), std::string::npos);
  EXPECT_NE(text.find("config     /etc/fieldlink/fieldlink.yaml (loaded 2026-11-26T10:00:00.000Z, "
                      "2 reloads, 1 failed)\n"),
            std::string::npos);
  EXPECT_NE(text.find("LAST RELOAD FAILED 2026-11-26T11:59:00.000Z (1m00s ago): 1 error(s)"),
            std::string::npos);
  EXPECT_NE(text.find("/etc/fieldlink/conf.d/x.yaml:3:9: hub.port: expected an integer value"),
            std::string::npos);
  EXPECT_NE(text.find("adapters   2\n"), std::string::npos);
  EXPECT_NE(text.find("devices    3\n"), std::string::npos);
  EXPECT_NE(text.find("sessions   2\n"), std::string::npos);
  EXPECT_NE(text.find("connection refused"), std::string::npos);
  EXPECT_NE(text.find("journal    depth 12, oldest 5m00s, drops expired 5\n"), std::string::npos);
  EXPECT_NE(text.find("2.0 MiB of 256.0 MiB"), std::string::npos);
  EXPECT_EQ(text.find('\033'), std::string::npos);
}

TEST(StatusView, ColoursOnlyWithAnEnabledPalette) {
  Palette on;
  on.enabled = true;
  const auto text = render_status(fixture(), nullptr, kNow, on);
  EXPECT_NE(text.find("\033[31mUNHEALTHY\033[0m"), std::string::npos);
  EXPECT_NE(text.find("\033[32monline\033[0m"), std::string::npos);
}

TEST(StatusView, ToleratesAnAlmostEmptyDocument) {
  const auto text = render_status(json::object(), nullptr, kNow, Palette{});
  EXPECT_EQ(text.substr(0, text.find('\n')), "fieldlinkd ?  pid ?  up 0d 00:00:00  UNHEALTHY");
  EXPECT_NE(text.find("devices    0\n"), std::string::npos);
}

TEST(DeviceRows, OneRowPerDeviceOfEveryAdapterShape) {
  const auto b = bindings();
  const auto rows = device_rows(fixture(), &b, kNow);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].source, "modbus://line/3");
  EXPECT_EQ(rows[0].identity, "boiler-3");
  EXPECT_EQ(rows[0].adapter, "line");
  EXPECT_EQ(rows[0].state, "online");
  ASSERT_TRUE(rows[0].age_seconds);
  EXPECT_DOUBLE_EQ(*rows[0].age_seconds, 2.0);
  EXPECT_EQ(rows[0].errors, 3u);
  EXPECT_EQ(rows[0].error_text, "2 timeouts, 1 bad frame; last: timeout after 1s");
  EXPECT_EQ(rows[1].source, "modbus://line/4");
  EXPECT_EQ(rows[1].identity, "");
  EXPECT_EQ(rows[1].state, "offline");
  EXPECT_FALSE(rows[1].age_seconds);
  EXPECT_EQ(rows[2].source, "mqtt://plant/s1");
  EXPECT_EQ(rows[2].identity, "plant-s1");
  EXPECT_EQ(rows[2].state, "online");
}

TEST(DeviceRows, ADeviceAnAdapterAndTheDaemonBothListIsOneRow) {
  // The daemon's own `devices` list repeats what the adapters list, and adds what only the
  // router saw; each source is one row, with the adapter's state when an adapter lists it.
  auto doc = fixture();
  doc["devices"] = json::parse(R"([
    {"source": "modbus://line/3", "adapter": "line", "identity": "boiler-3",
     "last_reading": "2026-11-26T11:59:00.000Z", "readings": 5, "errors": 3, "last_error": "x"},
    {"source": "serial://bus/9", "adapter": "bus", "identity": "",
     "last_reading": "2026-11-26T11:59:30.000Z", "readings": 2, "errors": 1,
     "last_error": "bad checksum"}])");
  const auto rows = device_rows(doc, nullptr, kNow);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].source, "modbus://line/3");
  EXPECT_EQ(rows[0].state, "online");
  EXPECT_EQ(rows[0].error_text, "2 timeouts, 1 bad frame; last: timeout after 1s");
  EXPECT_EQ(rows[3].source, "serial://bus/9");
  EXPECT_EQ(rows[3].adapter, "bus");
  EXPECT_EQ(rows[3].state, "unknown");
  ASSERT_TRUE(rows[3].age_seconds);
  EXPECT_DOUBLE_EQ(*rows[3].age_seconds, 30.0);
  EXPECT_EQ(rows[3].errors, 1u);
  EXPECT_EQ(rows[3].error_text, "1 error; last: bad checksum");
}

TEST(DeviceRows, RenderedAsATable) {
  const auto b = bindings();
  const auto text = render_devices(device_rows(fixture(), &b, kNow), Palette{});
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "SOURCE           IDENTITY  ADAPTER  STATE    LAST READING  ERRORS");
  EXPECT_NE(text.find("mqtt://plant/s1  plant-s1  plant    online   5m00s ago     -\n"),
            std::string::npos);
  EXPECT_NE(text.find("modbus://line/4  -         line     offline  never         -\n"),
            std::string::npos);
}

TEST(DeviceRows, AgesAndTimes) {
  EXPECT_EQ(age_text(4.9), "4s");
  EXPECT_EQ(age_text(192), "3m12s");
  EXPECT_EQ(age_text(7500), "2h05m");
  EXPECT_EQ(age_text(3 * 86400 + 4 * 3600), "3d04h");
  EXPECT_FALSE(parse_utc("2026-11-26 12:00:00"));
}

}  // namespace
}  // namespace fieldlink::ctl
