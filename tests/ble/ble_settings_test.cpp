// The ble adapter's config section: the contract's `tags` entry parsed into typed settings, and
// mistakes reported with their exact file:line:column and key path, all in one pass.
#include "adapters/ble/ble_settings.hpp"

#include <gtest/gtest.h>

#include "../unit/config_test_support.hpp"
#include "adapters/ble/reconnect_backoff.hpp"
#include "adapters/builtin.hpp"
#include "config/loader.hpp"

namespace fieldlink::ble {
namespace {

using namespace std::chrono_literals;

struct Loaded {
  std::shared_ptr<const BleSettings> settings;
  std::string errors;  // diagnostics with the temp folder's path cut off
};

Loaded load(const std::string& adapter_yaml) {
  testing::TempDir dir;
  const auto path = dir.write("f.yaml", "adapters:\n" + adapter_yaml);
  const auto r = config::load_config(path, builtin_adapters());
  Loaded out;
  if (r.config) {
    out.settings = std::dynamic_pointer_cast<const BleSettings>(r.config->adapters.at(0).settings);
  }
  out.errors = r.diagnostics.to_string();
  for (auto at = out.errors.find(dir.path().string() + "/"); at != std::string::npos;
       at = out.errors.find(dir.path().string() + "/"))
    out.errors.erase(at, dir.path().string().size() + 1);
  return out;
}

TEST(BleSettings, TheContractTagsEntryParses) {
  const auto l = load(R"(  - name: tags
    type: ble
    controller: hci0
    max_connections: 5
    devices:
      - mac: AA:BB:CC:DD:EE:01
        characteristics:
          - { name: temperature, uuid: 00002a6e-0000-1000-8000-00805f9b34fb, type: int16, endian: little, scale: 0.01, read: 30s }
          - { name: button,      uuid: 0000ffe1-0000-1000-8000-00805f9b34fb, type: uint8, notify: true }
          - { name: led,         uuid: 0000ffe2-0000-1000-8000-00805f9b34fb, type: uint8, writable: true }
    advertisers:
      - { mac: "*", company_id: 0x0499, fields: [ { name: temp, offset: 1, type: int16, endian: big, scale: 0.005 } ], dedupe: 10s }
)");
  ASSERT_TRUE(l.settings) << l.errors;
  const auto& s = *l.settings;
  EXPECT_EQ(s.controller, "hci0");
  EXPECT_EQ(s.max_connections, 5);
  ASSERT_EQ(s.devices.size(), 1u);
  const auto& d = s.devices[0];
  EXPECT_EQ(d.mac, "AA:BB:CC:DD:EE:01");
  ASSERT_EQ(d.characteristics.size(), 3u);
  EXPECT_EQ(d.characteristics[0].name, "temperature");
  EXPECT_EQ(d.characteristics[0].codec.type, ValueType::int16);
  EXPECT_EQ(d.characteristics[0].codec.scale, 0.01);
  EXPECT_EQ(d.characteristics[0].read, 30s);
  EXPECT_FALSE(d.characteristics[0].notify);
  EXPECT_TRUE(d.characteristics[1].notify);
  EXPECT_EQ(d.characteristics[1].read, 0s);
  EXPECT_TRUE(d.characteristics[2].writable);
  EXPECT_EQ(d.characteristics[2].uuid, "0000ffe2-0000-1000-8000-00805f9b34fb");
  ASSERT_EQ(s.advertisers.size(), 1u);
  const auto& a = s.advertisers[0];
  EXPECT_EQ(a.mac, "*");
  EXPECT_EQ(a.company_id, std::uint16_t{0x0499});
  EXPECT_EQ(a.dedupe, 10s);
  ASSERT_EQ(a.fields.size(), 1u);
  EXPECT_EQ(a.fields[0].codec.offset, 1u);
  EXPECT_EQ(a.fields[0].codec.endian, Endian::big);
  EXPECT_EQ(a.fields[0].codec.scale, 0.005);
  EXPECT_TRUE(s.needs_discovery());
}

TEST(BleSettings, ShortUuidsLowerCaseMacsAndDiscoveryRules) {
  const auto l = load(R"(  - name: tags
    type: ble
    devices:
      - mac: aa:bb:cc:dd:ee:0f
        characteristics:
          - { name: t, uuid: 0x2A6E, service: 181a, type: sfloat, read: 1s }
      - discover: { name_prefix: Thermo, service: 0000181a-0000-1000-8000-00805F9B34FB }
        characteristics:
          - { name: raw, uuid: 2a6e, type: hex, offset: 1, length: 2, read: 5s }
    advertisers:
      - { mac: 11:22:33:44:55:66, service_data: feaa, fields: [ { name: frame, type: hex } ] }
)");
  ASSERT_TRUE(l.settings) << l.errors;
  const auto& s = *l.settings;
  EXPECT_EQ(s.devices[0].mac, "AA:BB:CC:DD:EE:0F");
  EXPECT_EQ(s.devices[0].characteristics[0].uuid, "00002a6e-0000-1000-8000-00805f9b34fb");
  EXPECT_EQ(s.devices[0].characteristics[0].service_uuid, "0000181a-0000-1000-8000-00805f9b34fb");
  ASSERT_TRUE(s.devices[1].discover);
  EXPECT_EQ(s.devices[1].discover->name_prefix, "Thermo");
  EXPECT_EQ(s.devices[1].discover->service_uuid, "0000181a-0000-1000-8000-00805f9b34fb");
  EXPECT_EQ(s.devices[1].characteristics[0].codec.length, 2u);
  EXPECT_EQ(s.advertisers[0].service_data_uuid, "0000feaa-0000-1000-8000-00805f9b34fb");
  EXPECT_FALSE(s.advertisers[0].company_id);
}

TEST(BleSettings, MistakesAreReportedWithTheirPlaceAllAtOnce) {
  const auto l = load(R"(  - name: tags
    type: ble
    max_conections: 3
    devices:
      - mac: AA:BB:CC:DD:EE
        characteristics:
          - { name: t, uuid: 2a6e, type: int16, read: 1s }
      - mac: AA:BB:CC:DD:EE:01
        characteristics:
          - { name: t, uuid: not-a-uuid, read: 1s }
          - { name: idle, uuid: 2a6f }
          - { name: w, uuid: 2a70, type: int24, writable: true }
          - { name: l, uuid: 2a71, type: uint16, length: 4, read: 1s }
    advertisers:
      - { mac: "*", company_id: 0x10000, fields: [ { name: x } ] }
      - { mac: "*", company_id: 0x0499, service_data: feaa, fields: [ { name: x } ] }
      - { mac: "*", company_id: 76, fields: [ { name: rssi, type: int8 } ] }
)");
  EXPECT_FALSE(l.settings);
  EXPECT_EQ(
      l.errors,
      "f.yaml:4:5: adapters[0].max_conections: unknown key 'max_conections' (did you mean "
      "'max_connections'?); valid keys: controller, max_connections, connect_timeout, "
      "io_timeout, backoff_initial, backoff_max, max_discovered, name, type, devices, "
      "advertisers\n"
      "f.yaml:6:14: adapters[0].devices[0].mac: expected a MAC address such as "
      "AA:BB:CC:DD:EE:01, got 'AA:BB:CC:DD:EE'\n"
      "f.yaml:11:30: adapters[0].devices[1].characteristics[0].uuid: expected a 16-bit UUID such "
      "as 2a6e or a 128-bit one such as 0000ffe1-0000-1000-8000-00805f9b34fb, got 'not-a-uuid'\n"
      "f.yaml:12:13: adapters[0].devices[1].characteristics[1]: is neither read (read: "
      "<interval>), notify nor writable, so it does nothing\n"
      "f.yaml:13:42: adapters[0].devices[1].characteristics[2].type: expected one of: uint8, "
      "uint16, uint32, int8, int16, int32, float32, sfloat, float, hex, got 'int24'\n"
      "f.yaml:14:58: adapters[0].devices[1].characteristics[3].length: only hex takes a length; "
      "uint16 is 2 byte(s)\n"
      "f.yaml:16:33: adapters[0].advertisers[0].company_id: expected a 16-bit company "
      "identifier such as 0x0499, got '0x10000'\n"
      "f.yaml:17:9: adapters[0].advertisers[1]: has both company_id and service_data; choose "
      "one\n"
      "f.yaml:18:55: adapters[0].advertisers[2].fields[0].name: 'rssi' is the reading's own "
      "signal strength\n");
}

TEST(BleSettings, DevicesNeedAMacOrARule) {
  const auto l = load(R"(  - name: tags
    type: ble
    devices:
      - characteristics: [ { name: t, uuid: 2a6e, read: 1s } ]
      - mac: "*"
        characteristics: [ { name: t, uuid: 2a6e, read: 1s } ]
      - mac: AA:BB:CC:DD:EE:01
        characteristics: [ { name: t, uuid: 2a6e, read: 1s } ]
      - mac: aa:bb:cc:dd:ee:01
        characteristics: [ { name: t, uuid: 2a6e, read: 1s } ]
)");
  EXPECT_FALSE(l.settings);
  EXPECT_EQ(l.errors,
            "f.yaml:5:9: adapters[0].devices[0]: needs mac (or a discover rule)\n"
            "f.yaml:6:14: adapters[0].devices[1].mac: a connected device needs its MAC; use "
            "`discover` to bind devices by name or service\n"
            "f.yaml:10:14: adapters[0].devices[3].mac: device AA:BB:CC:DD:EE:01 is listed twice\n");
}

TEST(BleSettings, ReferenceDocumentsEveryTable) {
  const auto ref = ble_schema_reference();
  for (const auto* k :
       {"| `controller` |", "| `max_connections` |", "| `devices[].mac` |",
        "| `devices[].discover.name_prefix` |", "| `devices[].characteristics[].uuid` |",
        "| `devices[].characteristics[].notify` |", "| `advertisers[].company_id` |",
        "| `advertisers[].dedupe` |", "| `advertisers[].fields[].scale` |"}) {
    EXPECT_NE(ref.find(k), std::string::npos) << k;
  }
  EXPECT_NE(builtin_adapters().find("ble"), nullptr);
  EXPECT_TRUE(builtin_adapters().find("ble")->reference);
}

TEST(ReconnectBackoff, DoublesToTheCapWithFullJitter) {
  const ReconnectBackoff b(1s, 60s);
  EXPECT_EQ(b.cap(1), 1s);
  EXPECT_EQ(b.cap(2), 2s);
  EXPECT_EQ(b.cap(4), 8s);
  EXPECT_EQ(b.cap(7), 60s);
  EXPECT_EQ(b.cap(100), 60s);
  SeededRng rng(7);
  std::chrono::milliseconds lo = 60s, hi = 0s;
  for (int i = 0; i < 2000; ++i) {
    const auto d = b.delay(3, rng);
    ASSERT_GE(d, 10ms);
    ASSERT_LE(d, 4s);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  // Full jitter spreads over the whole range, not around the cap.
  EXPECT_LT(lo, 400ms);
  EXPECT_GT(hi, 3600ms);
}

}  // namespace
}  // namespace fieldlink::ble
