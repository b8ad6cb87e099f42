#include "identity-map/identity_map.hpp"

#include <gtest/gtest.h>

#include "config_test_support.hpp"

namespace fieldlink {
namespace {

using fieldlink::testing::TempDir;

constexpr const char* kGroupKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

config::IdentityBinding binding(std::string source, std::string device, std::string key_file,
                                bool group = false) {
  config::IdentityBinding b;
  b.source = std::move(source);
  b.device_id = std::move(device);
  (group ? b.group_key_file.path : b.key_file.path) = std::move(key_file);
  b.where = {"fieldlink.yaml", 7, 5};
  return b;
}

SourceAddress source(const char* text) {
  return *SourceAddress::parse(text);
}

TEST(IdentityMap, DerivesKeysAsDpsGroupEnrollmentDoes) {
  // Vector from iothub-mqtt.md §10.6.
  EXPECT_EQ(derive_device_key(kGroupKey, "device-001"),
            "BG0x/0mIbqnG9RWsosby2GxBOeYgRhXI9gnRqn2lxFI=");
}

TEST(IdentityMap, ResolvesExactBindingsBeforeWildcards) {
  TempDir dir;
  const auto key = dir.write("k.key", "a2V5\n");
  const auto group = dir.write("g.key", std::string(kGroupKey) + "\n");
  Diagnostics d;
  const auto map = IdentityMap::build({binding("mqtt://plant/+", "plant-{1}", group, true),
                                       binding("mqtt://plant/boiler", "boiler-3", key)},
                                      d);
  ASSERT_TRUE(map) << d.to_string();
  const auto exact = map->resolve(source("mqtt://plant/boiler"));
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->identity.client_id(), "boiler-3");
  EXPECT_EQ(exact->credential.sas_key, "a2V5");  // whitespace around the key is not part of it
  const auto family = map->resolve(source("mqtt://plant/s17"));
  ASSERT_TRUE(family);
  EXPECT_EQ(family->identity.client_id(), "plant-s17");
  EXPECT_EQ(family->credential.sas_key, derive_device_key(kGroupKey, "plant-s17"));
  EXPECT_FALSE(map->resolve(source("mqtt://plant/a/b")));  // + is one level
  EXPECT_FALSE(map->resolve(source("mqtt://other/s17")));
}

TEST(IdentityMap, FindsTheSourceOfAnIdentity) {
  TempDir dir;
  const auto key = dir.write("k.key", "a2V5");
  Diagnostics d;
  const auto map = IdentityMap::build({binding("modbus://line/3", "boiler-3", key),
                                       binding("mqtt://plant/+/+", "p.{2}-{1}", key, true)},
                                      d);
  ASSERT_TRUE(map) << d.to_string();
  EXPECT_EQ(map->source_of({DeviceId("boiler-3"), ModuleId()})->str(), "modbus://line/3");
  EXPECT_EQ(map->source_of({DeviceId("p.b7-hall"), ModuleId()})->str(), "mqtt://plant/hall/b7");
  EXPECT_FALSE(map->source_of({DeviceId("nobody"), ModuleId()}));
  ASSERT_EQ(map->fixed().size(), 1u);
  EXPECT_EQ(map->fixed()[0].identity.client_id(), "boiler-3");
}

TEST(IdentityMap, ReportsKeysThatAreNotBase64AtTheBinding) {
  TempDir dir;
  const auto bad = dir.write("bad.key", "not a key!");
  Diagnostics d;
  EXPECT_FALSE(IdentityMap::build({binding("modbus://line/3", "boiler-3", bad)}, d));
  EXPECT_EQ(d.to_string(),
            "fieldlink.yaml:7:5: identities[0]: key file " + bad + " does not hold a base64 key\n");
}

TEST(IdentityMap, MatchesPatternsLevelByLevel) {
  EXPECT_EQ(match_source("mqtt://a/+/x", "mqtt://a/7/x"), (std::vector<std::string>{"7"}));
  EXPECT_FALSE(match_source("mqtt://a/+/x", "mqtt://a/7/y"));
  EXPECT_FALSE(match_source("mqtt://a/+", "mqtt://a/"));
}

}  // namespace
}  // namespace fieldlink
