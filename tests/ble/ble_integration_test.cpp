// The BLE adapter against BlueZ's D-Bus API served by python-dbusmock on a private bus
// (bluez_mock.hpp): polled and notified characteristics decoded exactly, writes that land (the
// mock's own call log is the witness), a device and a controller that go away and come back,
// the connection limit, and an advertising sensor decoded and deduplicated. The adapter runs as
// the daemon runs it (AdapterContext, recording sink); every wait is for an event or a condition
// with a deadline.
#include <gtest/gtest.h>

#include "../modbus/adapter_harness.hpp"
#include "bluez_mock.hpp"

namespace fieldlink::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Bytes = std::vector<std::uint8_t>;

constexpr const char* kMac = "AA:BB:CC:DD:EE:01";
constexpr const char* kSource = "ble://tags/AA:BB:CC:DD:EE:01";
constexpr const char* kTempUuid = "00002a6e-0000-1000-8000-00805f9b34fb";
constexpr const char* kBatteryUuid = "00002a19-0000-1000-8000-00805f9b34fb";
constexpr const char* kBodyUuid = "00002a1c-0000-1000-8000-00805f9b34fb";
constexpr const char* kButtonUuid = "0000ffe1-0000-1000-8000-00805f9b34fb";
constexpr const char* kLedUuid = "0000ffe2-0000-1000-8000-00805f9b34fb";
constexpr const char* kBeepUuid = "0000ffe3-0000-1000-8000-00805f9b34fb";

std::string config(const std::string& body, int max_connections = 5) {
  return "adapters:\n  - name: tags\n    type: ble\n    controller: hci0\n"
         "    max_connections: " +
         std::to_string(max_connections) +
         "\n    backoff_initial: 100ms\n    backoff_max: 400ms\n    connect_timeout: 5s\n"
         "    io_timeout: 3s\n" +
         body;
}

// A tag as in the config contract: a sensor service with temperature, battery and body
// temperature (read), a button (notify), a LED (write with response), a beeper (without).
struct Tag {
  std::string device, service, temperature, battery, body, button, led, beep;

  Tag(BluezMock& m, const std::string& mac = kMac) {
    device = m.add_device(mac, "Tag");
    service = m.add_service(device, "service0010", "0000181a-0000-1000-8000-00805f9b34fb");
    temperature = m.add_char(service, "char0011", kTempUuid, {"read"}, {0x5A, 0x08});
    battery = m.add_char(service, "char0013", kBatteryUuid, {"read"}, {0x5F});
    body = m.add_char(service, "char0015", kBodyUuid, {"read"}, {0x6C, 0xF1});
    button = m.add_char(service, "char0017", kButtonUuid, {"read", "notify"}, {0x00});
    led = m.add_char(service, "char0019", kLedUuid, {"read", "write"}, {0x00});
    beep = m.add_char(service, "char001b", kBeepUuid, {"write-without-response"}, {0x00});
  }
};

const char* kTagDevice = R"(    devices:
      - mac: AA:BB:CC:DD:EE:01
        characteristics:
          - { name: temperature, uuid: 2a6e, type: int16, endian: little, scale: 0.01, read: 200ms }
          - { name: battery, uuid: 2a19, type: uint8, read: 200ms }
          - { name: body, uuid: 2a1c, service: 181a, type: sfloat, read: 300ms }
          - { name: button, uuid: 0000ffe1-0000-1000-8000-00805f9b34fb, type: uint8, notify: true }
          - { name: led, uuid: 0000ffe2-0000-1000-8000-00805f9b34fb, type: uint8, writable: true }
          - { name: beep, uuid: 0000ffe3-0000-1000-8000-00805f9b34fb, type: uint8, writable: true }
)";

json device_status(AdapterHarness& h, const std::string& source = kSource) {
  const auto status = h.status();  // kept: a range over a temporary's member would dangle
  for (const auto& d : status["devices"])
    if (d["source"] == source) return d;
  return json();
}

bool online(AdapterHarness& h, const std::string& source = kSource) {
  return device_status(h, source)["state"] == "online";
}

// Readings of one characteristic (one value named `name`) of a source, in arrival order.
std::vector<const Reading*> readings_of(AdapterHarness& h, const std::string& name,
                                        const std::string& source = kSource) {
  std::vector<const Reading*> out;
  for (const auto& r : h.sink.readings) {
    if (r.source.str() == source && r.values.size() == 1 && r.values[0].first == name) {
      out.push_back(&r);
    }
  }
  return out;
}

std::vector<bool> online_reports(AdapterHarness& h, const std::string& source = kSource) {
  std::vector<bool> out;
  for (const auto& r : h.sink.readings) {
    if (r.source.str() == source && r.kind == ReadingKind::reported) {
      out.push_back(std::get<bool>(r.values.at(0).second));
    }
  }
  return out;
}

TEST(BleAdapter, ThreeCharacteristicsAreReadOnScheduleAndDecodedExactly) {
  BluezMock m;
  m.add_adapter("hci0");
  Tag tag(m);
  AdapterHarness h(config(kTagDevice));
  ASSERT_TRUE(h.run_until([&] { return online(h); }, 10s)) << h.status().dump(2);
  ASSERT_TRUE(h.run_until(
      [&] {
        return readings_of(h, "temperature").size() >= 4 && readings_of(h, "battery").size() >= 4 &&
               readings_of(h, "body").size() >= 3;
      },
      10s))
      << h.status().dump(2);
  for (const auto* r : readings_of(h, "temperature"))
    EXPECT_EQ(r->values[0].second, Value(21.38));  // 0x085A = 2138 × 0.01
  for (const auto* r : readings_of(h, "battery"))
    EXPECT_EQ(r->values[0].second, Value(std::int64_t{95}));
  for (const auto* r : readings_of(h, "body"))
    EXPECT_EQ(r->values[0].second, Value(36.4));  // SFLOAT 0xF16C = 364 × 10^-1
  // On schedule: consecutive reads of one characteristic are an interval apart, not bunched.
  const auto t = readings_of(h, "temperature");
  for (std::size_t i = 1; i < t.size(); ++i) {
    const auto gap = t[i]->sampled_at - t[i - 1]->sampled_at;
    EXPECT_GE(gap, 150ms) << i;
    EXPECT_LE(gap, 1500ms) << i;
  }
  // The mock saw the reads, and none of the write-only or notify-only characteristics was read.
  EXPECT_GE(m.calls(tag.temperature, "ReadValue").size(), 4u);
  EXPECT_GE(m.calls(tag.body, "ReadValue").size(), 3u);
  EXPECT_TRUE(m.calls(tag.led, "ReadValue").empty());
  const auto s = device_status(h);
  EXPECT_EQ(s["connects"], 1);
  EXPECT_EQ(s["characteristics"][0]["value"], 21.38);
  EXPECT_EQ(online_reports(h), std::vector<bool>{true});
}

TEST(BleAdapter, NotificationsBecomeReadings) {
  BluezMock m;
  m.add_adapter("hci0");
  Tag tag(m);
  AdapterHarness h(config(kTagDevice));
  ASSERT_TRUE(h.run_until([&] { return online(h); }, 10s));
  // Subscribed: the mock's characteristic says Notifying (a condition polled with a deadline).
  ASSERT_TRUE(h.run_until(
      [&] { return m.property_bool(tag.button, "org.bluez.GattCharacteristic1", "Notifying"); },
      10s));
  EXPECT_EQ(m.calls(tag.button, "StartNotify").size(), 1u);
  for (std::uint8_t v : {1, 0, 2})
    ASSERT_TRUE(m.notify(tag.button, {v}));
  ASSERT_TRUE(h.run_until([&] { return readings_of(h, "button").size() >= 3; }, 10s));
  const auto b = readings_of(h, "button");
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0]->values[0].second, Value(std::int64_t{1}));
  EXPECT_EQ(b[1]->values[0].second, Value(std::int64_t{0}));
  EXPECT_EQ(b[2]->values[0].second, Value(std::int64_t{2}));
  EXPECT_EQ(device_status(h)["notifications"], 3);
}

TEST(BleAdapter, WritesLandWithTheRightTypeAndAnswerTheRealOutcome) {
  BluezMock m;
  m.add_adapter("hci0");
  Tag tag(m);
  AdapterHarness h(config(kTagDevice));
  ASSERT_TRUE(h.run_until([&] { return online(h); }, 10s));

  auto o = h.call(Command::Kind::method, kSource, "write", R"({"characteristic":"led","value":1})");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, 200) << o->payload;
  EXPECT_EQ(json::parse(o->payload)["type"], "request");
  auto calls = m.calls(tag.led, "WriteValue");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0][0].get<Bytes>(), Bytes{0x01});
  auto options = calls[0][1].get<std::map<std::string, sdbus::Variant>>();
  EXPECT_EQ(options.at("type").get<std::string>(), "request");

  // Without response where that is all the characteristic allows.
  o = h.call(Command::Kind::method, kSource, "write", R"({"characteristic":"beep","value":3})");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, 200) << o->payload;
  calls = m.calls(tag.beep, "WriteValue");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0][0].get<Bytes>(), Bytes{0x03});
  options = calls[0][1].get<std::map<std::string, sdbus::Variant>>();
  EXPECT_EQ(options.at("type").get<std::string>(), "command");

  // Raw bytes, and a C2D message with the same body.
  o = h.call(Command::Kind::method, kSource, "write", R"({"characteristic":"led","hex":"ff"})");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, 200) << o->payload;
  o = h.call(Command::Kind::c2d, kSource, "", R"({"characteristic":"led","value":9})");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, 200) << o->payload;
  calls = m.calls(tag.led, "WriteValue");
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[1][0].get<Bytes>(), Bytes{0xFF});
  EXPECT_EQ(calls[2][0].get<Bytes>(), Bytes{0x09});

  // A desired property named after a writable characteristic is written and reported.
  o = h.call(Command::Kind::desired, kSource, "", R"({"led": 7, "$version": 4})");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, 200) << o->payload;
  EXPECT_EQ(json::parse(o->payload),
            json::parse(R"({"led": {"value": 7, "ac": 200, "av": 4, "ad": "written"}})"));
  calls = m.calls(tag.led, "WriteValue");
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[3][0].get<Bytes>(), Bytes{0x07});

  // The device refuses: 502 with BlueZ's error name, for the method and for the twin.
  m.set_write_error(tag.led, "org.bluez.Error.Failed");
  o = h.call(Command::Kind::method, kSource, "write", R"({"characteristic":"led","value":2})");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, 502) << o->payload;
  EXPECT_EQ(json::parse(o->payload)["error"], "org.bluez.Error.Failed");
  o = h.call(Command::Kind::desired, kSource, "", R"({"led": 3, "$version": 5})");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, 502);
  EXPECT_EQ(json::parse(o->payload)["led"]["ac"], 502);
  EXPECT_EQ(device_status(h)["failed_writes"], 2);
}

TEST(BleAdapter, AWriteTheDeviceDoesNotAnswerInTimeIs504) {
  BluezMock m;
  m.add_adapter("hci0");
  Tag tag(m);
  std::string cfg = config(kTagDevice);
  cfg.replace(cfg.find("io_timeout: 3s"), 14, "io_timeout: 300ms");
  AdapterHarness h(cfg);
  ASSERT_TRUE(h.run_until([&] { return online(h); }, 10s));
  m.set_write_delay(tag.led, 1.5);
  const auto started = std::chrono::steady_clock::now();
  const auto o =
      h.call(Command::Kind::method, kSource, "write", R"({"characteristic":"led","value":1})");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, 504) << o->payload;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1400ms);  // answered at the timeout
  EXPECT_NE(json::parse(o->payload)["error"].get<std::string>().find("org.freedesktop.DBus.Error"),
            std::string::npos)
      << o->payload;
}

TEST(BleAdapter, StoppingAnswersACommandStillInFlight) {
  BluezMock m;
  m.add_adapter("hci0");
  Tag tag(m);
  AdapterHarness h(config(kTagDevice));
  ASSERT_TRUE(h.run_until([&] { return online(h); }, 10s));
  m.set_write_delay(tag.led, 1.0);
  Command c{Command::Kind::method, *SourceAddress::parse(kSource), "write", {}, {}, {}, {}};
  c.payload = R"({"characteristic":"led","value":1})";
  std::vector<Outcome> answers;
  h.adapter->execute(c, [&](Outcome o) { answers.push_back(std::move(o)); });
  // The write is on its way to the mock (its log shows it) when the adapter stops.
  ASSERT_TRUE(h.run_until([&] { return !m.calls(tag.led, "WriteValue").empty(); }, 10s));
  bool stopped = false;
  h.adapter->stop([&] { stopped = true; });
  ASSERT_TRUE(h.run_until([&] { return stopped; }, 10s));
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status, 503) << answers[0].payload;
}

TEST(BleAdapter, ADiscoveryRuleBindsMatchingDevices) {
  BluezMock m;
  m.add_adapter("hci0");
  AdapterHarness h(config(R"(    devices:
      - discover: { name_prefix: Thermo }
        characteristics: [ { name: battery, uuid: 2a19, read: 200ms } ]
)"));
  ASSERT_TRUE(h.run_until([&] { return h.status()["bluez"]["discovering"] == true; }, 10s));
  Tag other(m, "AA:BB:CC:DD:EE:09");  // named "Tag": not bound
  const auto thermo = m.add_device("AA:BB:CC:DD:EE:07", "Thermo-7");
  const auto svc = m.add_service(thermo, "service0010", "0000180f-0000-1000-8000-00805f9b34fb");
  m.add_char(svc, "char0011", kBatteryUuid, {"read"}, {0x2A});
  const std::string source = "ble://tags/AA:BB:CC:DD:EE:07";
  ASSERT_TRUE(h.run_until([&] { return readings_of(h, "battery", source).size() >= 2; }, 10s))
      << h.status().dump(2);
  EXPECT_EQ(readings_of(h, "battery", source)[0]->values[0].second, Value(std::int64_t{42}));
  EXPECT_EQ(h.status()["devices"].size(), 1u);
  EXPECT_TRUE(m.calls(other.device, "Connect").empty());
}

TEST(BleAdapter, BadWritesAnswerAnErrorAndChangeNothing) {
  BluezMock m;
  m.add_adapter("hci0");
  Tag tag(m);
  AdapterHarness h(config(kTagDevice));
  ASSERT_TRUE(h.run_until([&] { return online(h); }, 10s));
  const auto expect = [&](Command::Kind kind, const std::string& target, const std::string& name,
                          const std::string& payload, int status, const std::string& text) {
    const auto o = h.call(kind, target, name, payload);
    ASSERT_TRUE(o) << payload;
    EXPECT_EQ(o->status, status) << payload << " → " << o->payload;
    EXPECT_NE(o->payload.find(text), std::string::npos) << o->payload;
  };
  using K = Command::Kind;
  expect(K::method, kSource, "write", R"({"characteristic":"nope","value":1})", 404,
         "no characteristic 'nope' on this device (writable: led, beep)");
  expect(K::method, kSource, "write", R"({"characteristic":"temperature","value":1})", 400,
         "is not writable");
  expect(K::method, kSource, "write", R"({"characteristic":"led","value":300})", 400,
         "out of range for uint8");
  expect(K::method, kSource, "write", R"({"characteristic":"led"})", 400, "exactly one of");
  expect(K::method, kSource, "write", "not json", 400, "expected");
  expect(K::method, kSource, "reboot", "{}", 400, "unknown method 'reboot'");
  expect(K::method, "ble://tags/11:22:33:44:55:66", "write",
         R"({"characteristic":"led","value":1})", 404, "no such BLE device");
  expect(K::desired, kSource, "", R"({"nope": 1, "$version": 2})", 404, "nope");
  EXPECT_TRUE(m.calls(tag.led, "WriteValue").empty());
  // Still alive and reading.
  const auto before = readings_of(h, "battery").size();
  ASSERT_TRUE(h.run_until([&] { return readings_of(h, "battery").size() >= before + 2; }, 10s));
  EXPECT_TRUE(online(h));
}

TEST(BleAdapter, ADeviceThatDisconnectsIsReconnectedWithBackoff) {
  BluezMock m;
  m.add_adapter("hci0");
  Tag tag(m);
  AdapterHarness h(config(kTagDevice));
  ASSERT_TRUE(h.run_until([&] { return online(h); }, 10s));
  ASSERT_TRUE(h.run_until([&] { return readings_of(h, "battery").size() >= 2; }, 10s));

  // Out of range: the link drops and connecting fails until it is back.
  m.set_reachable(tag.device, false);
  m.drop(tag.device);
  ASSERT_TRUE(h.run_until([&] { return !online(h); }, 10s));
  ASSERT_TRUE(h.run_until([&] { return m.calls(tag.device, "Connect").size() >= 3; }, 10s))
      << h.status().dump(2);
  auto s = device_status(h);
  EXPECT_NE(s["last_error"].get<std::string>().find("org.bluez.Error.Failed"), std::string::npos)
      << s.dump(2);
  EXPECT_EQ(s["disconnects"], 1);
  EXPECT_LE(s["retry_in_ms"].get<int>(), 400);
  const auto during = readings_of(h, "battery").size();

  m.set_reachable(tag.device, true);
  ASSERT_TRUE(h.run_until([&] { return online(h); }, 10s)) << h.status().dump(2);
  ASSERT_TRUE(h.run_until([&] { return readings_of(h, "battery").size() >= during + 2; }, 10s));
  EXPECT_EQ(online_reports(h), (std::vector<bool>{true, false, true}));
  // Subscribed again after the reconnect.
  ASSERT_TRUE(h.run_until(
      [&] { return m.property_bool(tag.button, "org.bluez.GattCharacteristic1", "Notifying"); },
      10s));
  EXPECT_EQ(m.calls(tag.button, "StartNotify").size(), 2u);
}

TEST(BleAdapter, AControllerThatDisappearsOrPowersOffIsRecovered) {
  BluezMock m;
  m.add_adapter("hci0");
  auto tag = std::make_unique<Tag>(m);
  AdapterHarness h(config(kTagDevice));
  ASSERT_TRUE(h.run_until([&] { return online(h); }, 10s));

  m.remove_adapter_with_devices("hci0");
  ASSERT_TRUE(
      h.run_until([&] { return device_status(h)["state"] == "waiting-for-controller"; }, 10s));
  EXPECT_FALSE(h.status()["bluez"]["controller_present"].get<bool>());
  const auto during = readings_of(h, "battery").size();

  // The controller comes back (a USB dongle re-plugged): BlueZ finds the device again.
  m.add_adapter("hci0");
  tag = std::make_unique<Tag>(m);
  ASSERT_TRUE(h.run_until([&] { return online(h); }, 10s)) << h.status().dump(2);
  ASSERT_TRUE(h.run_until([&] { return readings_of(h, "battery").size() >= during + 2; }, 10s));

  // Powered off and on again.
  m.set_powered("hci0", false);
  ASSERT_TRUE(
      h.run_until([&] { return device_status(h)["state"] == "waiting-for-controller"; }, 10s));
  m.set_powered("hci0", true);
  ASSERT_TRUE(h.run_until([&] { return online(h); }, 10s)) << h.status().dump(2);
  EXPECT_EQ(online_reports(h), (std::vector<bool>{true, false, true, false, true}));
  EXPECT_EQ(m.calls(tag->device, "Connect").size(), 2u);  // the new object: first + after power
}

TEST(BleAdapter, AtMostMaxConnectionsTheRestQueued) {
  BluezMock m;
  m.add_adapter("hci0");
  const std::vector<std::string> macs{"AA:BB:CC:DD:EE:01", "AA:BB:CC:DD:EE:02",
                                      "AA:BB:CC:DD:EE:03"};
  std::vector<std::unique_ptr<Tag>> tags;
  std::string devices = "    devices:\n";
  for (const auto& mac : macs) {
    tags.push_back(std::make_unique<Tag>(m, mac));
    devices += "      - mac: " + mac +
               "\n        characteristics: [ { name: battery, uuid: 2a19, read: 200ms } ]\n";
  }
  AdapterHarness h(config(devices, 2));
  const auto src = [&](int i) { return "ble://tags/" + macs[static_cast<std::size_t>(i)]; };
  ASSERT_TRUE(h.run_until([&] { return online(h, src(0)) && online(h, src(1)); }, 10s));
  ASSERT_TRUE(h.run_until([&] { return readings_of(h, "battery", src(1)).size() >= 2; }, 10s));
  EXPECT_EQ(device_status(h, src(2))["state"], "queued");
  EXPECT_TRUE(m.calls(tags[2]->device, "Connect").empty());
  EXPECT_EQ(h.status()["connections"], 2);

  // The first one goes away for good: the queued one takes its slot.
  m.set_reachable(tags[0]->device, false);
  m.drop(tags[0]->device);
  ASSERT_TRUE(h.run_until([&] { return online(h, src(2)); }, 10s)) << h.status().dump(2);
  ASSERT_TRUE(h.run_until([&] { return readings_of(h, "battery", src(2)).size() >= 2; }, 10s));
  EXPECT_FALSE(online(h, src(0)));
  EXPECT_LE(h.status()["connections"].get<int>(), 2);
}

TEST(BleAdapter, AdvertisingSensorIsDecodedAndDeduplicated) {
  BluezMock m;
  m.add_adapter("hci0");
  const auto beacon = m.add_device("C0:FF:EE:00:00:01", "beacon");
  const auto other = m.add_device("C0:FF:EE:00:00:02", "phone");
  AdapterHarness h(config(R"(    advertisers:
      - { mac: "*", company_id: 0x0499, fields: [ { name: temp, offset: 1, type: int16, endian: big, scale: 0.005 }, { name: raw, type: hex } ], dedupe: 1s }
)"));
  const std::string source = "ble://tags/C0:FF:EE:00:00:01";
  const auto heard = [&] {
    const auto a = h.status()["advertisers"];
    return a.empty() ? 0 : a[0]["heard"].get<int>();
  };
  // Scanning: LE only, duplicates reported, then StartDiscovery.
  ASSERT_TRUE(h.run_until([&] { return h.status()["bluez"]["discovering"] == true; }, 10s));
  const auto filter = m.calls("/org/bluez/hci0", "SetDiscoveryFilter");
  ASSERT_EQ(filter.size(), 1u);
  const auto f = filter[0][0].get<std::map<std::string, sdbus::Variant>>();
  EXPECT_EQ(f.at("Transport").get<std::string>(), "le");

  // Another company's advertisement is not ours; it is sent first, so once the beacon's are
  // all heard it has been handled too (signals arrive in order).
  m.advertise(other, -40, 0x004C, {0x02, 0x15});
  // A beacon advertising ten times in a burst is one reading.
  for (int i = 0; i < 10; ++i)
    m.advertise(beacon, -60, 0x0499, {0x01, 0x0F, 0xA0});
  ASSERT_TRUE(h.run_until([&] { return heard() >= 10; }, 10s)) << h.status().dump(2);
  ASSERT_EQ(h.readings_of(source), 1u);
  const auto* r = h.last_of(source);
  ASSERT_EQ(r->values.size(), 3u);
  EXPECT_EQ(r->values[0], (std::pair<std::string, Value>{"temp", 20.0}));  // 0x0FA0 × 0.005
  EXPECT_EQ(r->values[1], (std::pair<std::string, Value>{"raw", std::string("010fa0")}));
  EXPECT_EQ(r->values[2], (std::pair<std::string, Value>{"rssi", std::int64_t{-60}}));
  EXPECT_EQ(h.status()["advertisers"][0]["suppressed"], 9);
  EXPECT_EQ(h.readings_of("ble://tags/C0:FF:EE:00:00:02"), 0u);

  // After the dedupe interval the next advertisement is a reading again.
  const auto first = r->sampled_at;
  auto last_sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(h.run_until(
      [&] {
        if (std::chrono::steady_clock::now() - last_sent >= 100ms) {  // about 10 per second
          m.advertise(beacon, -58, 0x0499, {0x01, 0x10, 0x04});
          last_sent = std::chrono::steady_clock::now();
        }
        return h.readings_of(source) >= 2;
      },
      10s));
  const auto* second = h.last_of(source);
  EXPECT_EQ(second->values[0].second, Value(20.5));  // 0x1004 = 4100 × 0.005
  EXPECT_GE(second->sampled_at - first, 900ms);
  EXPECT_TRUE(m.calls(beacon, "Connect").empty());  // advertisers are never connected
}

}  // namespace
}  // namespace fieldlink::testing
