// The serial adapter against a socat PTY pair: the adapter opens one end, the test plays the
// device on the other with recorded-style traffic (a scale's lines, CSV/kv/JSON meters, binary
// frames with checksums), a polled RS-485 bus, a port that vanishes and returns, and downlink.
// Every wait is for an event (a reading, a counter, a log record, an outcome) with a deadline.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "../modbus/adapter_harness.hpp"
#include "adapters/serial/checksum.hpp"
#include "pty_pair.hpp"

namespace fieldlink::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The device's end of the cable. Writes come from the test thread; with a responder, a thread
// answers each request (bytes up to `terminator`) as a real device would, concurrently with the
// adapter's loop on the test thread.
class DeviceEnd {
 public:
  using Responder = std::function<std::string(const std::string& request)>;

  explicit DeviceEnd(const std::string& path, Responder responder = {}, char terminator = '\r')
      : responder_(std::move(responder)), terminator_(terminator) {
    fd_ = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error("cannot open " + path);
    stop_ = ::eventfd(0, EFD_CLOEXEC);
    thread_ = std::thread([this] { serve(); });
  }
  ~DeviceEnd() {
    const std::uint64_t one = 1;
    (void)!::write(stop_, &one, sizeof one);
    thread_.join();
    ::close(stop_);
    ::close(fd_);
  }

  void write(std::string_view bytes) {
    std::lock_guard lock(write_mutex_);
    while (!bytes.empty()) {
      const auto n = ::write(fd_, bytes.data(), bytes.size());
      if (n > 0) {
        bytes.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, 5000) <= 0) throw std::runtime_error("device end not writable");
    }
  }
  std::string received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  void serve() {
    std::string pending;
    for (;;) {
      pollfd p[2] = {{fd_, POLLIN, 0}, {stop_, POLLIN, 0}};
      if (::poll(p, 2, -1) <= 0) continue;
      if (p[1].revents != 0) return;
      if ((p[0].revents & (POLLHUP | POLLERR)) != 0 && (p[0].revents & POLLIN) == 0) return;
      char buf[512];
      const auto n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) continue;
      {
        std::lock_guard lock(mutex_);
        received_.append(buf, static_cast<size_t>(n));
      }
      if (!responder_) continue;
      pending.append(buf, static_cast<size_t>(n));
      for (auto at = pending.find(terminator_); at != std::string::npos;
           at = pending.find(terminator_)) {
        const auto answer = responder_(pending.substr(0, at + 1));
        pending.erase(0, at + 1);
        if (!answer.empty()) write(answer);
      }
    }
  }

  Responder responder_;
  char terminator_;
  int fd_ = -1;
  int stop_ = -1;
  mutable std::mutex mutex_;
  std::mutex write_mutex_;
  std::string received_;
  std::thread thread_;
};

std::string adapter_yaml(const std::string& name, const std::string& port,
                         const std::string& body) {
  return "adapters:\n  - name: " + name + "\n    type: serial\n    port: " + port +
         "\n    backoff_max: 500ms\n" + body;
}

std::map<std::string, Value> values_of(const Reading& r) {
  return {r.values.begin(), r.values.end()};
}

// Waits until the adapter has the port open, so the device's first bytes are not written into a
// PTY nobody reads yet.
void wait_open(AdapterHarness& h, size_t opens = 1) {
  ASSERT_TRUE(h.run_until([&] { return h.log.count("serial.link_up") >= opens; }, 10s));
}

const char* kScale = R"(    framing: { kind: line, delimiter: "\r\n", max_frame: 64 }
    parse: { kind: regex, pattern: '^(?<status>ST|US),GS,(?<weight>[+-]?[0-9.]+)kg$', types: { weight: float64 } }
)";

TEST(SerialLine, ScaleLinesBecomeTypedReadings) {
  PtyPair pty;
  AdapterHarness h(adapter_yaml("scale", pty.gateway_end(), kScale));
  wait_open(h);
  DeviceEnd device(pty.device_end());
  // Recorded from a bench scale: lines arrive in arbitrary pieces.
  device.write("ST,GS,+0012.34kg\r\nUS,GS,+00");
  device.write("12.40kg\r");
  device.write("\nST,GS,-0000.02kg\r\n");
  ASSERT_TRUE(h.run_until([&] { return h.readings_of("serial://scale") >= 3; }, 10s));
  ASSERT_EQ(h.sink.readings.size(), 3u);
  EXPECT_EQ(values_of(h.sink.readings[0]),
            (std::map<std::string, Value>{{"status", std::string("ST")}, {"weight", 12.34}}));
  EXPECT_EQ(values_of(h.sink.readings[1])["weight"], Value(12.40));
  EXPECT_EQ(values_of(h.sink.readings[1])["status"], Value(std::string("US")));
  EXPECT_EQ(values_of(h.sink.readings[2])["weight"], Value(-0.02));
  EXPECT_LT(std::chrono::abs(std::chrono::system_clock::now() - h.sink.readings[0].sampled_at),
            10s);
  const auto s = h.status();
  EXPECT_EQ(s["link"]["up"], true);
  EXPECT_EQ(s["devices"][0]["source"], "serial://scale");
  EXPECT_EQ(s["devices"][0]["state"], "online");
  EXPECT_EQ(s["devices"][0]["readings"], 3);
  EXPECT_EQ(s["devices"][0]["bad_frames"]["total"], 0);
}

TEST(SerialLine, GarbageAndOverlongLinesAreCountedExactlyWhileValidOnesDecode) {
  PtyPair pty;
  AdapterHarness h(adapter_yaml("scale", pty.gateway_end(), kScale));
  wait_open(h);
  DeviceEnd device(pty.device_end());
  device.write("ST,GS,+0001.00kg\r\n");
  device.write("#!%&*\r\n");  // parse fault 1
  device.write("ST,GS,+0002.00kg\r\n");
  device.write(std::string(300, 'Z') + "\r\n");           // overlong 1 (max_frame 64)
  device.write(std::string("\x00\xFF\xFE", 3) + "\r\n");  // parse fault 2
  device.write("ST,GS,+0003.00kg\r\n");
  device.write(std::string(200, 'Y'));   // overlong 2, no delimiter for now
  device.write("ST,GS,+0004.00kg\r\n");  // ...ends with this line's delimiter
  device.write("ST,GS,+0005.00kg\r\n");
  ASSERT_TRUE(h.run_until([&] { return h.readings_of("serial://scale") >= 4; }, 10s));
  // The last line is decoded after everything before it: the counters are final now.
  const auto s = h.status()["devices"][0];
  EXPECT_EQ(h.readings_of("serial://scale"), 4u);
  std::vector<double> weights;
  for (const auto& r : h.sink.readings)
    weights.push_back(std::get<double>(values_of(r)["weight"]));
  EXPECT_EQ(weights, (std::vector<double>{1, 2, 3, 5}));
  EXPECT_EQ(s["bad_frames"]["parse"], 2);
  EXPECT_EQ(s["bad_frames"]["overlong"], 2);
  EXPECT_EQ(s["bad_frames"]["total"], 4);
  EXPECT_EQ(s["frames"], 4);
  // Rate-limited: the first bad frame is logged, the next three fall in the same window.
  EXPECT_EQ(h.log.count("serial.bad_frame"), 1u);
}

TEST(SerialLine, CsvMeterLines) {
  PtyPair pty;
  AdapterHarness h(adapter_yaml("meter", pty.gateway_end(), R"(    framing: { kind: line }
    parse: { kind: csv, columns: [voltage, current, _, state], types: { voltage: float64, current: float64 } }
)"));
  wait_open(h);
  DeviceEnd device(pty.device_end());
  device.write("230.1,4.52,x,RUN\n231.0,4.60\n229.8,0.00,x,IDLE\r\n");
  ASSERT_TRUE(h.run_until([&] { return h.readings_of("serial://meter") >= 2; }, 10s));
  const auto s = h.status()["devices"][0];
  EXPECT_EQ(values_of(h.sink.readings[0]),
            (std::map<std::string, Value>{
                {"voltage", 230.1}, {"current", 4.52}, {"state", std::string("RUN")}}));
  EXPECT_EQ(values_of(h.sink.readings[1])["state"], Value(std::string("IDLE")));  // \r stripped
  EXPECT_EQ(s["bad_frames"]["parse"], 1);
  EXPECT_EQ(s["last_error"], "2 columns, expected 4");
}

TEST(SerialLine, JsonAndKeyValueLines) {
  PtyPair pty;
  AdapterHarness h(adapter_yaml("env", pty.gateway_end(), R"(    framing: { kind: line }
    parse: { kind: json }
)"));
  wait_open(h);
  DeviceEnd device(pty.device_end());
  device.write(R"({"t":21.5,"rh":40,"ok":true,"fw":"1.2"})"
               "\n"
               R"({"t":)"
               "\n"
               R"({"t":22.0,"rh":41,"ok":false,"fw":"1.2"})"
               "\n");
  ASSERT_TRUE(h.run_until([&] { return h.readings_of("serial://env") >= 2; }, 10s));
  EXPECT_EQ(values_of(h.sink.readings[0]),
            (std::map<std::string, Value>{
                {"t", 21.5}, {"rh", std::int64_t{40}}, {"ok", true}, {"fw", std::string("1.2")}}));
  EXPECT_EQ(values_of(h.sink.readings[1])["ok"], Value(false));
  EXPECT_EQ(h.status()["devices"][0]["bad_frames"]["parse"], 1);

  PtyPair pty2;
  AdapterHarness kv(adapter_yaml("kv", pty2.gateway_end(), R"(    framing: { kind: line }
    parse: { kind: kv, types: { T: float64, P: int64 } }
)"));
  wait_open(kv);
  DeviceEnd device2(pty2.device_end());
  device2.write("T=21.50 P=1013 S=OK\n");
  ASSERT_TRUE(kv.run_until([&] { return kv.readings_of("serial://kv") >= 1; }, 10s));
  EXPECT_EQ(values_of(kv.sink.readings[0]),
            (std::map<std::string, Value>{
                {"T", 21.5}, {"P", std::int64_t{1013}}, {"S", std::string("OK")}}));
}

std::string crc_frame(std::string body) {
  const auto c = serial::checksum(serial::ChecksumKind::crc16_modbus, body);
  return body + static_cast<char>(c & 0xFF) + static_cast<char>(c >> 8);
}

TEST(SerialFrames, LengthPrefixedBinaryWithCrcAndAGapThatCutsAFrame) {
  PtyPair pty;
  AdapterHarness h(adapter_yaml(
      "flow", pty.gateway_end(),
      R"(    framing: { kind: length-prefixed, offset: 1, width: 1, adjust: 2, max_frame: 32, inter_byte_timeout: 50ms }
    parse:
      kind: binary
      checksum: crc16-modbus
      fields:
        - { name: rate, offset: 2, type: uint16, scale: 0.1 }
        - { name: total, offset: 4, type: uint32, order: little }
)"));
  wait_open(h);
  DeviceEnd device(pty.device_end());
  // Recorded-style: sync 0xA5, length 6, rate 123.4 (0x04D2), total 70000 little-endian.
  const auto good = crc_frame(std::string("\xA5\x06\x04\xD2\x70\x11\x01\x00", 8));
  auto corrupt = good;
  corrupt[3] = '\xD3';
  device.write(good + corrupt);
  device.write(good.substr(0, 5));  // then the line falls silent: cut by the gap
  ASSERT_TRUE(
      h.run_until([&] { return h.status()["devices"][0]["bad_frames"]["truncated"] == 1; }, 10s));
  device.write(good);
  ASSERT_TRUE(h.run_until([&] { return h.readings_of("serial://flow") >= 2; }, 10s));
  const auto s = h.status()["devices"][0];
  EXPECT_EQ(h.readings_of("serial://flow"), 2u);
  EXPECT_EQ(values_of(h.sink.readings[0]),
            (std::map<std::string, Value>{{"rate", 123.4}, {"total", std::int64_t{70000}}}));
  EXPECT_EQ(s["bad_frames"]["checksum"], 1);
  EXPECT_EQ(s["bad_frames"]["truncated"], 1);
  EXPECT_EQ(s["bad_frames"]["total"], 2);
}

TEST(SerialFrames, DelimitedFramesWithEscapesAndXorChecksum) {
  PtyPair pty;
  AdapterHarness h(
      adapter_yaml("plc", pty.gateway_end(),
                   R"(    framing: { kind: delimited, start: 0x02, end: 0x03, escape: 0x10 }
    parse:
      kind: binary
      checksum: xor8
      fields:
        - { name: code, offset: 0, type: uint8 }
        - { name: value, offset: 1, type: int16 }
)"));
  wait_open(h);
  DeviceEnd device(pty.device_end());
  // Content 05 03 10 (value 0x0310 = 784) + xor8 = 0x16; the ETX and DLE inside are escaped.
  const std::string frame("\x02\x05\x10\x03\x10\x10\x16\x03", 8);
  device.write(frame + "noise" + frame);
  ASSERT_TRUE(h.run_until([&] { return h.readings_of("serial://plc") >= 2; }, 10s));
  EXPECT_EQ(
      values_of(h.sink.readings[0]),
      (std::map<std::string, Value>{{"code", std::int64_t{5}}, {"value", std::int64_t{784}}}));
  EXPECT_EQ(h.status()["devices"][0]["bad_frames"]["garbage"], 1);
  EXPECT_EQ(h.status()["devices"][0]["bad_frames"]["total"], 1);
}

TEST(SerialFrames, FixedFramesResynchroniseAfterAGap) {
  PtyPair pty;
  AdapterHarness h(adapter_yaml("counter", pty.gateway_end(),
                                R"(    framing: { kind: fixed, length: 4, inter_byte_timeout: 50ms }
    parse:
      kind: binary
      checksum: sum8
      fields: [ { name: count, offset: 0, type: uint16 }, { name: flags, offset: 2, type: uint8 } ]
)"));
  wait_open(h);
  DeviceEnd device(pty.device_end());
  device.write(std::string("\x00\x2A", 2));  // a frame cut off mid-way
  ASSERT_TRUE(
      h.run_until([&] { return h.status()["devices"][0]["bad_frames"]["truncated"] == 1; }, 10s));
  device.write(std::string("\x00\x2A\x01\x2B\x01\x00\x00\x01", 8));
  ASSERT_TRUE(h.run_until([&] { return h.readings_of("serial://counter") >= 2; }, 10s));
  EXPECT_EQ(
      values_of(h.sink.readings[0]),
      (std::map<std::string, Value>{{"count", std::int64_t{42}}, {"flags", std::int64_t{1}}}));
  EXPECT_EQ(values_of(h.sink.readings[1])["count"], Value(std::int64_t{256}));
}

TEST(SerialBus, PolledDevicesOnOneRs485LineAreSeparateSources) {
  PtyPair pty;
  AdapterHarness h(adapter_yaml("bus", pty.gateway_end(), R"(    rs485: true
    offline_after: 2
    framing: { kind: line, delimiter: "\r" }
    parse: { kind: regex, pattern: '^!(?<id>\d+) (?<temp>[-0-9.]+)$', types: { temp: float64 }, address: id }
    poll: { request: "#{address}?\r", addresses: [1, 2, 3], every: 400ms, timeout: 200ms }
)"));
  wait_open(h);
  DeviceEnd devices(pty.device_end(), [](const std::string& request) -> std::string {
    if (request == "#1?\r") return "!1 21.5\r";
    if (request == "#2?\r") return "!2 -3.25\r";
    return {};  // unit 3 is silent
  });
  ASSERT_TRUE(h.run_until(
      [&] {
        return h.readings_of("serial://bus/1") >= 3 && h.readings_of("serial://bus/2") >= 3 &&
               h.status()["devices"][2]["state"] == "offline";
      },
      15s));
  EXPECT_EQ(values_of(*h.last_of("serial://bus/1")),
            (std::map<std::string, Value>{{"temp", 21.5}}));
  EXPECT_EQ(values_of(*h.last_of("serial://bus/2")),
            (std::map<std::string, Value>{{"temp", -3.25}}));
  EXPECT_EQ(h.readings_of("serial://bus/3"), 0u);
  const auto s = h.status()["devices"];
  EXPECT_EQ(s[0]["state"], "online");
  EXPECT_EQ(s[1]["state"], "online");
  EXPECT_GE(s[2]["timeouts"], 2);
  EXPECT_EQ(s[2]["source"], "serial://bus/3");
  EXPECT_EQ(devices.received().substr(0, 12),
            "#1?\r#2?\r#3?\r");                       // one request at a time, in order
  EXPECT_EQ(h.log.count("serial.link_warning"), 1u);  // RS-485 refused by the PTY (ENOTTY)
  EXPECT_EQ(h.log.count("serial.device_offline"), 1u);
}

TEST(SerialLine, PortVanishesAndIsReopenedWhenItReturns) {
  PtyPair pty;
  AdapterHarness h(adapter_yaml("scale", pty.gateway_end(), kScale));
  wait_open(h);
  {
    DeviceEnd device(pty.device_end());
    device.write("ST,GS,+0001.00kg\r\n");
    ASSERT_TRUE(h.run_until([&] { return h.readings_of("serial://scale") >= 1; }, 10s));
  }
  pty.unplug();
  ASSERT_TRUE(h.run_until([&] { return h.log.count("serial.link_down") >= 1; }, 10s));
  EXPECT_EQ(h.status()["link"]["up"], false);
  EXPECT_EQ(h.status()["devices"][0]["state"], "offline");
  EXPECT_EQ(h.call(Command::Kind::c2d, "serial://scale", "", "T")->status, 404);
  ASSERT_TRUE(pty.plug());
  wait_open(h, 2);
  DeviceEnd device(pty.device_end());
  device.write("ST,GS,+0002.00kg\r\n");
  ASSERT_TRUE(h.run_until([&] { return h.readings_of("serial://scale") >= 2; }, 10s));
  EXPECT_EQ(values_of(h.sink.readings.back())["weight"], Value(2.0));
  EXPECT_EQ(h.status()["link"]["opens"], 2);
  EXPECT_EQ(h.status()["devices"][0]["state"], "online");
  EXPECT_EQ(h.log.count("serial.link_down"), 1u);  // retries while absent are not logged again
}

TEST(SerialDownlink, MethodSendRoundTripTimeoutAndC2dTemplate) {
  PtyPair pty;
  AdapterHarness h(adapter_yaml("scale", pty.gateway_end(),
                                std::string(kScale) + "    command_template: \"{body}\\r\\n\"\n"));
  wait_open(h);
  DeviceEnd device(
      pty.device_end(),
      [](const std::string& request) -> std::string {
        if (request == "ID\r\n") return "ID:SC-42\r\n";
        if (request == "P\r\n") return "ST,GS,+0007.50kg\r\n";
        return {};
      },
      '\n');
  auto out = h.call(Command::Kind::method, "serial://scale", "send",
                    R"({"data": "ID\r\n", "expect": "^ID:", "timeout": "2s"})");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200) << out->payload;
  EXPECT_EQ(json::parse(out->payload)["frame"], "ID:SC-42");
  // The answer to a send is also decoded when it parses.
  out = h.call(Command::Kind::method, "serial://scale", "send", R"({"data": "P\\r\\n"})");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200) << out->payload;
  EXPECT_EQ(json::parse(out->payload)["values"]["weight"], 7.5);
  // No answer that matches: 504 after the timeout.
  out = h.call(Command::Kind::method, "serial://scale", "send",
               R"({"data": "ID\r\n", "expect": "^NEVER", "timeout": "300ms"})");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 504) << out->payload;
  // C2D through command_template.
  out = h.call(Command::Kind::c2d, "serial://scale", "", "TARE");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200) << out->payload;
  ASSERT_TRUE(
      h.run_until([&] { return device.received().find("TARE\r\n") != std::string::npos; }, 5s));
  EXPECT_EQ(device.received(), "ID\r\nP\r\nID\r\nTARE\r\n");
  EXPECT_EQ(h.call(Command::Kind::method, "serial://scale", "reboot", "{}")->status, 400);
  EXPECT_EQ(h.call(Command::Kind::method, "serial://scale", "send", R"({"data": 5})")->status, 400);
  EXPECT_EQ(h.call(Command::Kind::method, "serial://other", "send", R"({"data":"x"})")->status,
            404);
  EXPECT_EQ(h.call(Command::Kind::method, "serial://scale/7", "send", R"({"data":"x"})")->status,
            404);
}

}  // namespace
}  // namespace fieldlink::testing
