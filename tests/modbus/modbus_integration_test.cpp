// The Modbus adapter against real peers: pymodbus over TCP and over RTU on a socat PTY pair, and
// the in-tree libmodbus server (tests/fixtures/modbus). Every peer is started and killed by the
// test; every wait is for an event (a reading, an outcome, a log record) with a deadline.
#include <modbus/modbus.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "adapter_harness.hpp"
#include "peer_process.hpp"

namespace fieldlink::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kFixtures = FIELDLINK_MODBUS_FIXTURES;
const std::string kSeed = kFixtures + "/every_type.seed";

int free_port() {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

enum class Server { pymodbus, libmodbus };

// A TCP peer on 127.0.0.1; the libmodbus one reports its port, pymodbus gets a free one.
class TcpPeer {
 public:
  TcpPeer(Server kind, std::string units, int port = 0) : kind_(kind), units_(std::move(units)) {
    start(port);
  }
  int port() const { return port_; }
  void kill_hard() { process_->kill_hard(); }
  void restart() { start(port_); }

 private:
  void start(int port) {
    if (kind_ == Server::libmodbus) {
      process_ = std::make_unique<PeerProcess>(
          std::vector<std::string>{FIELDLINK_MODBUS_SERVER, "--port", std::to_string(port),
                                   "--units", units_, "--seed", kSeed});
      const auto line = process_->wait_for_line("PORT ", 10s);
      ASSERT_FALSE(line.empty()) << "libmodbus test server did not start";
      port_ = std::stoi(line.substr(5));
    } else {
      port_ = port != 0 ? port : free_port();
      process_ = std::make_unique<PeerProcess>(std::vector<std::string>{
          FIELDLINK_SYSTEM_PYTHON, kFixtures + "/pymodbus_server.py", "tcp", std::to_string(port_),
          "--units", units_, "--seed", kSeed});
      ASSERT_FALSE(process_->wait_for_line("READY", 20s).empty()) << "pymodbus did not start";
    }
  }

  Server kind_;
  std::string units_;
  int port_ = 0;
  std::unique_ptr<PeerProcess> process_;
};

// Reads registers straight from the server with plain libmodbus, independent of the adapter.
std::vector<std::uint16_t> server_registers(int port, int address, int count) {
  std::unique_ptr<modbus_t, void (*)(modbus_t*)> ctx(modbus_new_tcp("127.0.0.1", port),
                                                     [](modbus_t* c) {
                                                       modbus_close(c);
                                                       modbus_free(c);
                                                     });
  modbus_set_slave(ctx.get(), 1);
  modbus_set_response_timeout(ctx.get(), 2, 0);
  std::vector<std::uint16_t> out(static_cast<size_t>(count));
  if (modbus_connect(ctx.get()) == -1 ||
      modbus_read_registers(ctx.get(), address, count, out.data()) != count) {
    ADD_FAILURE() << "direct read failed: " << modbus_strerror(errno);
  }
  return out;
}

bool server_coil(int port, int address) {
  modbus_t* ctx = modbus_new_tcp("127.0.0.1", port);
  modbus_set_slave(ctx, 1);
  std::uint8_t bit = 0;
  if (modbus_connect(ctx) == -1 || modbus_read_bits(ctx, address, 1, &bit) != 1) {
    ADD_FAILURE() << "direct coil read failed: " << modbus_strerror(errno);
  }
  modbus_close(ctx);
  modbus_free(ctx);
  return bit != 0;
}

const char* kEveryTypePoints = R"(
          - { name: i16, table: holding, address: 0, type: int16 }
          - { name: u16, table: holding, address: 1, type: uint16 }
          - { name: i32, table: holding, address: 2, type: int32, order: ABCD }
          - { name: u32, table: holding, address: 4, type: uint32, order: CDAB }
          - { name: i64, table: holding, address: 6, type: int64, order: DCBA }
          - { name: u64, table: holding, address: 10, type: uint64 }
          - { name: f32, table: holding, address: 14, type: float32, order: CDAB }
          - { name: f64, table: holding, address: 16, type: float64, order: BADC }
          - { name: text, table: holding, address: 20, type: string(7) }
          - { name: flags, table: holding, address: 24, type: bits }
          - { name: flag, table: holding, address: 25, type: bool }
          - { name: setpoint, table: holding, address: 26, type: int16, scale: 0.1 }
          - { name: temp, table: input, address: 0, type: float32 }
          - { name: burner, table: coil, address: 3, type: bool }
          - { name: door, table: discrete, address: 5, type: bool }
)";

const char* kWritablePoints = R"(
          - { name: w_i16, table: holding, address: 100, type: int16, writable: true }
          - { name: w_u16, table: holding, address: 101, type: uint16, writable: true }
          - { name: w_i32, table: holding, address: 102, type: int32, order: CDAB, writable: true }
          - { name: w_u32, table: holding, address: 104, type: uint32, writable: true }
          - { name: w_i64, table: holding, address: 106, type: int64, order: DCBA, writable: true }
          - { name: w_u64, table: holding, address: 110, type: uint64, order: CDAB, writable: true }
          - { name: w_f32, table: holding, address: 114, type: float32, order: CDAB, writable: true }
          - { name: w_f64, table: holding, address: 116, type: float64, order: BADC, writable: true }
          - { name: w_text, table: holding, address: 120, type: string(7), writable: true }
          - { name: w_flag, table: holding, address: 124, type: bool, writable: true }
          - { name: w_sp, table: holding, address: 125, type: int16, scale: 0.1, writable: true, min: 5, max: 90 }
          - { name: w_coil, table: coil, address: 10, type: bool, writable: true }
)";

std::string tcp_config(int port, const std::string& devices, const std::string& extra = "") {
  return "adapters:\n  - name: plc\n    type: modbus-tcp\n    host: 127.0.0.1\n    port: " +
         std::to_string(port) + "\n    response_timeout: 300ms\n    backoff_max: 1s\n" + extra +
         "    devices:\n" + devices;
}

std::string device(int unit, const std::string& points, const std::string& extra = "") {
  return "      - unit: " + std::to_string(unit) + "\n        poll: 100ms\n        max_gap: 4\n" +
         extra + "        points:" + points;
}

void expect_every_type(const Reading& r) {
  std::map<std::string, Value> v(r.values.begin(), r.values.end());
  EXPECT_EQ(r.quality, Quality::good);
  EXPECT_EQ(v["i16"], Value(std::int64_t{-2}));
  EXPECT_EQ(v["u16"], Value(std::int64_t{65535}));
  EXPECT_EQ(v["i32"], Value(std::int64_t{-123456789}));
  EXPECT_EQ(v["u32"], Value(std::int64_t{4000000000}));
  EXPECT_EQ(v["i64"], Value(std::int64_t{-1234567890123456789}));
  EXPECT_EQ(v["u64"], Value(std::uint64_t{0x0123456789ABCDEF}));
  EXPECT_EQ(v["f32"], Value(4002.5));
  EXPECT_EQ(v["f64"], Value(-1234.5678));
  EXPECT_EQ(v["text"], Value(std::string("FL-0042")));
  EXPECT_EQ(v["flags.0"], Value(true));
  EXPECT_EQ(v["flags.1"], Value(false));
  EXPECT_EQ(v["flags.2"], Value(true));
  EXPECT_EQ(v["flags.15"], Value(true));
  EXPECT_EQ(v["flag"], Value(true));
  EXPECT_EQ(v["setpoint"], Value(21.5));
  EXPECT_EQ(v["temp"], Value(21.5));
  EXPECT_EQ(v["burner"], Value(true));
  EXPECT_EQ(v["door"], Value(true));
  EXPECT_EQ(v.size(), 15u + 15u);  // 14 single values and 16 flags
  // Sample times are UTC "now", not local time and not the epoch.
  EXPECT_LT(std::chrono::abs(std::chrono::system_clock::now() - r.sampled_at), 10s);
}

class TcpServers : public ::testing::TestWithParam<Server> {};

TEST_P(TcpServers, EveryTypeIsReadAndDecodedExactly) {
  TcpPeer peer(GetParam(), "1");
  AdapterHarness h(tcp_config(peer.port(), device(1, kEveryTypePoints)));
  ASSERT_TRUE(h.run_until([&] { return h.readings_of("modbus://plc/1") >= 3; }, 15s));
  expect_every_type(*h.last_of("modbus://plc/1"));
  const auto s = h.status()["devices"][0];
  EXPECT_EQ(s["state"], "online");
  // Holding 0..26 in one request (the plan), input, coil and discrete one each.
  EXPECT_EQ(s["plan"]["requests_per_round"], 4);
}

TEST_P(TcpServers, WritesOfEveryWritableTypeLandInTheServersRegisters) {
  TcpPeer peer(GetParam(), "1");
  AdapterHarness h(tcp_config(peer.port(), device(1, kWritablePoints)));
  ASSERT_TRUE(h.run_until([&] { return h.readings_of("modbus://plc/1") >= 1; }, 15s));
  const auto out = h.call(Command::Kind::method, "modbus://plc/1", "write", R"({"points": {
      "w_i16": -2, "w_u16": 65535, "w_i32": -123456789, "w_u32": 4000000000,
      "w_i64": -1234567890123456789, "w_u64": 81985529216486895, "w_f32": 4002.5,
      "w_f64": -1234.5678, "w_text": "FL-0042", "w_flag": true, "w_sp": 21.5, "w_coil": true}})");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200) << out->payload;
  const std::vector<std::uint16_t> expected{0xFFFE, 0xFFFF,                  // int16, uint16
                                            0x32EB, 0xF8A4,                  // int32 CDAB
                                            0xEE6B, 0x2800,                  // uint32 ABCD
                                            0xEB7E, 0x1682, 0x0BEF, 0xDDEE,  // int64 DCBA
                                            0xCDEF, 0x89AB, 0x4567, 0x0123,  // uint64 CDAB
                                            0x2800, 0x457A,                  // float32 CDAB
                                            0x93C0, 0x454A, 0x5C6D, 0xADFA,  // float64 BADC
                                            0x464C, 0x2D30, 0x3034, 0x3200,  // string(7)
                                            0x0001,                          // bool
                                            215};                            // 21.5 with scale 0.1
  EXPECT_EQ(server_registers(peer.port(), 100, 26), expected);
  EXPECT_TRUE(server_coil(peer.port(), 10));

  // An invalid value is refused whole, before anything is written.
  const auto refused =
      h.call(Command::Kind::method, "modbus://plc/1", "write", R"({"point": "w_sp", "value": 95})");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
  EXPECT_EQ(server_registers(peer.port(), 125, 1), std::vector<std::uint16_t>{215});

  // A desired-twin patch writes and acknowledges per property; `read` returns current values.
  const auto desired =
      h.call(Command::Kind::desired, "modbus://plc/1", "", R"({"w_u16": 7, "$version": 3})");
  ASSERT_TRUE(desired);
  EXPECT_EQ(desired->status, 200) << desired->payload;
  EXPECT_EQ(json::parse(desired->payload)["w_u16"]["ac"], 200);
  EXPECT_EQ(server_registers(peer.port(), 101, 1), std::vector<std::uint16_t>{7});
  const auto read = h.call(Command::Kind::method, "modbus://plc/1", "read", "{}");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, 200);
  const auto values = json::parse(read->payload)["values"];
  EXPECT_EQ(values["w_u16"], 7);
  EXPECT_EQ(values["w_f32"], 4002.5);
  EXPECT_EQ(values["w_text"], "FL-0042");
}

TEST_P(TcpServers, AnExceptionAndAnAbsentUnitAreReportedNotFatal) {
  TcpPeer peer(GetParam(), "1");
  const std::string unit1 = device(1, R"(
          - { name: ok, table: holding, address: 0, type: int16 }
          - { name: beyond, table: holding, address: 5000, type: int16, writable: true }
)");
  const std::string unit9 = device(9, R"(
          - { name: x, table: holding, address: 0, type: int16 }
)");
  AdapterHarness h(tcp_config(peer.port(), unit1 + unit9));
  // Unit 9 does not answer: after two timeouts it is offline, logged once, and only probed.
  ASSERT_TRUE(h.run_until([&] { return h.log.count("modbus.device_offline") >= 1; }, 15s));
  const auto before = h.readings_of("modbus://plc/1");
  ASSERT_TRUE(h.run_until([&] { return h.readings_of("modbus://plc/1") >= before + 5; }, 10s));
  const auto* r = h.last_of("modbus://plc/1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->quality, Quality::uncertain);  // one of its two requests got an exception
  ASSERT_EQ(r->values.size(), 1u);
  EXPECT_EQ(r->values[0].second, Value(std::int64_t{-2}));
  const auto s = h.status()["devices"];
  EXPECT_GE(s[0]["exceptions"].get<int>(), 1);
  EXPECT_EQ(s[0]["state"], "online");
  EXPECT_EQ(s[1]["state"], "offline");
  EXPECT_GE(s[1]["timeouts"].get<int>(), 2);
  EXPECT_EQ(h.log.count("modbus.device_offline"), 1u);

  const auto exception = h.call(Command::Kind::method, "modbus://plc/1", "write",
                                R"({"point": "beyond", "value": 1})");
  ASSERT_TRUE(exception);
  EXPECT_EQ(exception->status, 502) << exception->payload;
  EXPECT_EQ(json::parse(exception->payload)["exception"], 2);
  const auto absent = h.call(Command::Kind::method, "modbus://plc/9", "read", "{}");
  ASSERT_TRUE(absent);
  EXPECT_EQ(absent->status, 504) << absent->payload;
}

TEST_P(TcpServers, PollingRecoversAfterTheServerIsKilledAndRestarted) {
  TcpPeer peer(GetParam(), "1");
  AdapterHarness h(tcp_config(peer.port(), device(1, kEveryTypePoints)));
  ASSERT_TRUE(h.run_until([&] { return h.readings_of("modbus://plc/1") >= 3; }, 15s));
  const auto offline = h.log.count("modbus.device_offline");
  const auto online = h.log.count("modbus.device_online");
  peer.kill_hard();
  ASSERT_TRUE(h.run_until([&] { return h.log.count("modbus.device_offline") > offline; }, 10s));
  const auto before = h.readings_of("modbus://plc/1");
  const auto restarted_at = std::chrono::steady_clock::now();
  peer.restart();
  ASSERT_TRUE(h.run_until([&] { return h.readings_of("modbus://plc/1") > before; }, 15s));
  std::printf("  polling resumed %lld ms after the server restarted\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - restarted_at)
                                         .count()));
  expect_every_type(*h.last_of("modbus://plc/1"));
  // Counters follow the reading on the core loop.
  EXPECT_TRUE(h.run_until([&] { return h.status()["devices"][0]["state"] == "online"; }, 5s));
  EXPECT_EQ(h.log.count("modbus.device_online"), online + 1);
}

INSTANTIATE_TEST_SUITE_P(Modbus, TcpServers, ::testing::Values(Server::pymodbus, Server::libmodbus),
                         [](const auto& param_info) {
                           return param_info.param == Server::pymodbus ? "pymodbus" : "libmodbus";
                         });

// RTU over a socat PTY pair: pymodbus on one end, the adapter on the other.
class RtuLine {
 public:
  explicit RtuLine(std::string units) : units_(std::move(units)) { plug(); }
  ~RtuLine() { unplug(); }
  std::string port() const { return (dir_.path() / "ttyB").string(); }

  // Like pulling the USB adapter: the device node disappears, and the peer with it.
  void unplug() {
    server_.reset();
    socat_.reset();
  }
  void plug() {
    socat_ = std::make_unique<PeerProcess>(
        std::vector<std::string>{"/usr/bin/socat", "-d", "-d",
                                 "pty,raw,echo=0,link=" + (dir_.path() / "ttyA").string(),
                                 "pty,raw,echo=0,link=" + (dir_.path() / "ttyB").string()},
        true);
    // socat creates both links before it logs that the transfer loop started.
    EXPECT_FALSE(socat_->wait_for_line("starting data transfer loop", 10s).empty());
    // The pymodbus serial server has no readiness signal: the adapter's probing covers it.
    server_ = std::make_unique<PeerProcess>(std::vector<std::string>{
        FIELDLINK_SYSTEM_PYTHON, kFixtures + "/pymodbus_server.py", "rtu",
        (dir_.path() / "ttyA").string(), "--units", units_, "--seed", kSeed});
  }

 private:
  std::string units_;
  TempDir dir_;
  std::unique_ptr<PeerProcess> socat_;
  std::unique_ptr<PeerProcess> server_;
};

std::string rtu_config(const std::string& port, const std::string& devices,
                       const std::string& extra = "", const std::string& timeout = "100ms") {
  // rs485: true on a PTY is refused (ENOTTY): a warning, never a dead bus.
  return "adapters:\n  - name: line\n    type: modbus-rtu\n    port: " + port +
         "\n    baud: 115200\n    parity: none\n    rs485: true\n    response_timeout: " + timeout +
         "\n    byte_timeout: 50ms\n" + extra + "    devices:\n" + devices;
}

TEST(PymodbusRtu, EveryTypeIsReadAndDecodedAndWritesAreReadBack) {
  RtuLine line("1");
  AdapterHarness h(rtu_config(line.port(),
                              device(1, std::string(kEveryTypePoints) + R"(
          - { name: w_sp, table: holding, address: 125, type: int16, scale: 0.1, writable: true, min: 5, max: 90 }
)",
                                     "        read_back: true\n"),
                              "    backoff_max: 1s\n"));
  ASSERT_TRUE(h.run_until([&] { return h.readings_of("modbus://line/1") >= 3; }, 20s));
  auto r = *h.last_of("modbus://line/1");
  std::erase_if(r.values, [](const auto& v) { return v.first == "w_sp"; });
  expect_every_type(r);
  EXPECT_EQ(h.log.count("modbus.link_warning"), 1u);  // RS-485 refused by the PTY
  const auto out = h.call(Command::Kind::method, "modbus://line/1", "write",
                          R"({"point": "w_sp", "value": 42.5})");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200) << out->payload;  // written and read back equal
  ASSERT_TRUE(h.run_until(
      [&] {
        const auto* last = h.last_of("modbus://line/1");
        for (const auto& [n, v] : last->values) {
          if (n == "w_sp") return v == Value(42.5);
        }
        return false;
      },
      5s));
}

TEST(PymodbusRtu, PollingRecoversAfterTheSerialDeviceIsReplugged) {
  RtuLine line("1");
  AdapterHarness h(rtu_config(line.port(), device(1, kEveryTypePoints), "    backoff_max: 1s\n"));
  ASSERT_TRUE(h.run_until([&] { return h.readings_of("modbus://line/1") >= 3; }, 20s));
  const auto offline = h.log.count("modbus.device_offline");
  line.unplug();
  ASSERT_TRUE(h.run_until([&] { return h.log.count("modbus.device_offline") > offline; }, 10s));
  const auto before = h.readings_of("modbus://line/1");
  line.plug();
  ASSERT_TRUE(h.run_until([&] { return h.readings_of("modbus://line/1") > before; }, 20s));
  expect_every_type(*h.last_of("modbus://line/1"));
  EXPECT_GE(h.log.count("modbus.link_down"), 1u);
}

// Readings per second of `source` whose sample time falls in [from, to).
double rate(const AdapterHarness& h, const std::string& source,
            std::chrono::system_clock::time_point from, std::chrono::system_clock::time_point to) {
  size_t n = 0;
  for (const auto& r : h.sink.readings)
    n += r.source.str() == source && !r.values.empty() && r.sampled_at >= from && r.sampled_at < to;
  return static_cast<double>(n) / std::chrono::duration<double>(to - from).count();
}

struct Rates {
  double unit1;
  double unit2;
};

Rates measure_with_silent_unit(const std::string& extra) {
  RtuLine line("1,2");
  const std::string points = R"(
          - { name: a, table: holding, address: 0, type: int16 }
          - { name: b, table: input, address: 0, type: float32 }
)";
  AdapterHarness h(rtu_config(
      line.port(), device(1, points) + device(2, points) + device(3, points), extra, "200ms"));
  EXPECT_TRUE(h.run_until(
      [&] {
        return h.readings_of("modbus://line/1") >= 5 && h.readings_of("modbus://line/2") >= 5;
      },
      20s));
  const auto from = std::chrono::system_clock::now();
  const auto window = 4s;
  h.run_until([] { return false; }, window);  // measure: the loop keeps taking readings
  const auto to = from + window;
  const Rates r{rate(h, "modbus://line/1", from, to), rate(h, "modbus://line/2", from, to)};
  const auto s = h.status()["devices"];
  std::printf(
      "  %s: unit1 %.1f/s unit2 %.1f/s (nominal 10/s); unit3 %s, %d timeouts; skipped "
      "%d/%d\n",
      extra.find("offline_after: 100") != std::string::npos ? "breaker off" : "breaker on", r.unit1,
      r.unit2, s[2]["state"].get<std::string>().c_str(), s[2]["timeouts"].get<int>(),
      s[0]["skipped"].get<int>(), s[1]["skipped"].get<int>());
  return r;
}

TEST(PymodbusRtu, TwoLiveUnitsKeepTheirPollRateWhileTheThirdIsSilent) {
  // Poll 100 ms (10/s) per unit; the silent unit 3 burns a 200 ms timeout per attempt. With the
  // breaker it costs the line one timeout per probe (after 1 s, 2 s, 4 s, then every 5 s).
  const auto with = measure_with_silent_unit("    backoff_max: 5s\n");
  EXPECT_GE(with.unit1, 8.5);
  EXPECT_GE(with.unit2, 8.5);
  // The same line without the breaker (it would take 100 misses to open) shows what it buys:
  // every round waits for unit 3's timeout, so the live units fall to about half their rate.
  const auto without = measure_with_silent_unit("    backoff_max: 5s\n    offline_after: 100\n");
  EXPECT_LT(without.unit1, 0.75 * with.unit1);
  EXPECT_LT(without.unit2, 0.75 * with.unit2);
}

}  // namespace
}  // namespace fieldlink::testing
