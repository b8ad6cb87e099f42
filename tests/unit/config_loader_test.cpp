#include "config/loader.hpp"

#include <gtest/gtest.h>

#include "adapters/builtin.hpp"
#include "config/schema.hpp"
#include "config_test_support.hpp"

namespace fieldlink::config {
namespace {

using namespace std::chrono_literals;
using fieldlink::testing::TempDir;

const AdapterRegistry kNoAdapters({});

TEST(ConfigLoader, EmptyFileGivesTheDocumentedDefaults) {
  TempDir dir;
  const auto r = load_config(dir.write("fieldlink.yaml", ""), kNoAdapters);
  ASSERT_TRUE(r.config) << r.diagnostics.to_string();
  const auto& c = *r.config;
  EXPECT_EQ(c.hub.port, 8883);
  EXPECT_EQ(c.hub.token_ttl, Duration(1h));
  EXPECT_DOUBLE_EQ(c.hub.connect_rate.per_second(), 10.0);
  EXPECT_EQ(c.hub.send_rate.count, 0u);
  EXPECT_EQ(c.hub.keepalive, Duration(4min));
  EXPECT_EQ(c.hub.inflight, 32);
  EXPECT_EQ(c.store.max_size.bytes, 256ull << 20);
  EXPECT_EQ(c.store.commit_interval, Duration(20ms));
  EXPECT_EQ(c.store.on_full, OnFull::drop_oldest);
  EXPECT_EQ(format_listen(c.status.listen), "127.0.0.1:8086");
  EXPECT_EQ(c.log.level, LogLevel::info);
  EXPECT_EQ(c.unknown_sources, UnknownSources::reject);
}

TEST(ConfigLoader, EveryDefaultInTheSchemaParses) {
  for (const auto& f : config_fields()) {
    if (!f.default_text) continue;
    Config c;
    EXPECT_EQ(f.assign(*f.default_text, ParseContext{}, c), "") << f.key;
  }
}

TEST(ConfigLoader, ReadsEveryTopLevelSection) {
  TempDir dir;
  dir.write("keys/boiler-3.key", "c2VjcmV0\n");
  dir.write("ca.crt", "not parsed by the loader\n", 0644);
  const auto r = load_config(dir.write("fieldlink.yaml", R"(
gateway: { name: line7-gw, state_dir: /var/lib/fl, identity: line7-gw }
log: { level: debug, rate_limit: 5/min }
hub:
  host: myhub.azure-devices.net
  ca_file: ca.crt
  mode: gateway
  token_ttl: 2h
  connect_rate: 600/min
  send_rate: 100/s
  stall_timeout: 90s
store: { max_size: 64MiB, max_age: 2d, on_full: reject-new, sync: full, commit_interval: 5ms }
status: { listen: "unix:/run/fieldlink/status.sock" }
identities:
  - { source: modbus://boiler-line/3, device_id: boiler-3, key_file: keys/boiler-3.key }
unknown_sources: gateway
)"),
                             kNoAdapters);
  ASSERT_TRUE(r.config) << r.diagnostics.to_string();
  const auto& c = *r.config;
  EXPECT_EQ(c.gateway.name, "line7-gw");
  EXPECT_EQ(c.log.level, LogLevel::debug);
  EXPECT_EQ(c.hub.mode, HubMode::gateway);
  EXPECT_EQ(c.hub.token_ttl, Duration(2h));
  EXPECT_EQ(c.hub.connect_rate.count, 600u);
  EXPECT_EQ(c.store.sync, SyncMode::full);
  EXPECT_EQ(c.store.max_age, Duration(48h));
  EXPECT_TRUE(c.status.listen.is_unix());
  ASSERT_EQ(c.identities.size(), 1u);
  // Relative key paths are resolved against the config file's folder.
  EXPECT_EQ(c.identities[0].key_file.path, (dir.path() / "keys/boiler-3.key").string());
  EXPECT_EQ(c.unknown_sources, UnknownSources::gateway);
}

TEST(ConfigLoader, ConfDFilesMergeInNameOrder) {
  TempDir dir;
  const auto main =
      dir.write("fieldlink.yaml", "hub: { port: 1000, token_ttl: 2h }\nlog: { level: info }\n");
  dir.write("conf.d/20-later.yaml", "hub: { port: 3000 }\n");
  dir.write("conf.d/10-earlier.yaml", "hub: { port: 2000, keepalive: 60s }\n");
  dir.write("conf.d/30-ignored.yml.bak", "hub: { port: 9 }\n");
  const auto r = load_config(main, kNoAdapters);
  ASSERT_TRUE(r.config) << r.diagnostics.to_string();
  EXPECT_EQ(r.config->hub.port, 3000);                // the last file wins
  EXPECT_EQ(r.config->hub.keepalive, Duration(60s));  // keys merge, not whole sections
  EXPECT_EQ(r.config->hub.token_ttl, Duration(2h));   // untouched keys stay
  ASSERT_EQ(r.config->files.size(), 3u);
  EXPECT_EQ(r.config->files[1], (dir.path() / "conf.d/10-earlier.yaml").string());
  EXPECT_EQ(r.config->files[2], (dir.path() / "conf.d/20-later.yaml").string());
}

TEST(ConfigLoader, ConfDListsAppend) {
  TempDir dir;
  dir.write("ca.crt", "", 0644);
  dir.write("a.key", "YQ==");
  dir.write("b.key", "Yg==");
  const auto main = dir.write("fieldlink.yaml", R"(hub: { host: h.example, ca_file: ca.crt }
identities:
  - { source: mqtt://plant/a, device_id: a, key_file: a.key }
)");
  dir.write("conf.d/b.yaml",
            "identities:\n  - { source: mqtt://plant/b, device_id: b, key_file: ../b.key }\n");
  const auto r = load_config(main, kNoAdapters);
  ASSERT_TRUE(r.config) << r.diagnostics.to_string();
  ASSERT_EQ(r.config->identities.size(), 2u);
  EXPECT_EQ(r.config->identities[1].device_id, "b");
  EXPECT_EQ(r.config->identities[1].key_file.path, (dir.path() / "b.key").string());
}

TEST(ConfigLoader, ErrorsInConfDNameTheirOwnFile) {
  TempDir dir;
  const auto main = dir.write("fieldlink.yaml", "hub: { port: 1000 }\n");
  const auto extra = dir.write("conf.d/10-bad.yaml", "hub:\n  port: 0\n");
  const auto r = load_config(main, kNoAdapters);
  ASSERT_FALSE(r.config);
  EXPECT_EQ(r.diagnostics.to_string(),
            extra + ":2:9: hub.port: must be between 1 and 65535, got 0\n");
}

TEST(ConfigLoader, ExampleConfigUsesOnlyKnownKeys) {
  // The annotated example carries the whole config contract. The built-in adapter types parse
  // their entries; until each other type is built, its entry is refused by name. Key files of the
  // example do not exist on a build machine. Anything else (an unknown key, a wrong type) would
  // be a drift from the contract.
  const auto r =
      load_config(FIELDLINK_SOURCE_DIR "/config/fieldlink.example.yaml", builtin_adapters());
  ASSERT_FALSE(r.diagnostics.empty());
  for (const auto& d : r.diagnostics.items()) {
    const bool adapter_not_built =
        d.message.find("is not built into this fieldlinkd") != std::string::npos;
    const bool key_absent = d.message.find("No such file or directory") != std::string::npos ||
                            d.message.find("no such file") != std::string::npos;
    EXPECT_TRUE(adapter_not_built || key_absent) << d.to_string();
  }
}

TEST(ConfigLoader, DemoConfigIsValid) {
  const auto r = load_config(FIELDLINK_SOURCE_DIR "/config/demo.yaml", kNoAdapters);
  EXPECT_TRUE(r.config) << r.diagnostics.to_string();
}

TEST(Schema, ReferenceListsEveryKeyOnce) {
  const auto ref = schema_reference();
  for (const auto& f : config_fields()) {
    EXPECT_NE(ref.find("| `" + f.key + "` |"), std::string::npos) << f.key;
  }
  EXPECT_NE(ref.find("| `identities[].device_id` | string | required |"), std::string::npos);
}

}  // namespace
}  // namespace fieldlink::config
