#include <gtest/gtest.h>

#include "core/ids.hpp"

namespace fieldlink {
namespace {

TEST(SourceAddress, SplitsSchemeAdapterAndDeviceKey) {
  const auto a = SourceAddress::parse("modbus://boiler-line/3");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->scheme(), "modbus");
  EXPECT_EQ(a->adapter(), "boiler-line");
  EXPECT_EQ(a->device_key(), "3");
  const auto b = SourceAddress::parse("ble://tags/AA:BB:CC:DD:EE:01");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->device_key(), "AA:BB:CC:DD:EE:01");
  const auto s = SourceAddress::parse("serial://scale");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->adapter(), "scale");
  EXPECT_EQ(s->device_key(), "");
}

TEST(SourceAddress, MakeAgreesWithParse) {
  const auto made = SourceAddress::make("mqtt", AdapterName("plant"), "s1/a");
  EXPECT_EQ(made.str(), "mqtt://plant/s1/a");
  EXPECT_EQ(SourceAddress::parse(made.str()), made);
}

TEST(SourceAddress, RejectsMalformed) {
  for (const char* bad : {"", "modbus", "modbus:/x/1", "://x/1", "Modbus://x/1", "modbus:///1",
                          "modbus://x/", "modbus://a b/1", "modbus://x/1 2"}) {
    EXPECT_FALSE(SourceAddress::parse(bad)) << bad;
  }
}

TEST(Identity, ClientIdOfDeviceAndModule) {
  EXPECT_EQ((Identity{DeviceId("boiler-3"), ModuleId()}).client_id(), "boiler-3");
  EXPECT_EQ((Identity{DeviceId("gw"), ModuleId("mod")}).client_id(), "gw/mod");
}

}  // namespace
}  // namespace fieldlink
