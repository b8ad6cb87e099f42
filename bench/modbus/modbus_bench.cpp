// Modbus polling throughput: 20 devices (units 1..20) x 100 points on the in-tree libmodbus TCP
// server over loopback, in one run, three ways on one connection each:
//   per-point  — bare libmodbus, one read request per point (what naive gateways do);
//   coalesced  — bare libmodbus, exactly the requests of fieldlink's poll plan, no decoding;
//   fieldlink  — the Modbus adapter: plan, bus scheduler on its lane, decode, readings posted
//                to the core loop and pushed into a sink.
// Prints requests/s, registers/s and points/s for each and the ratios.
//
// usage: modbus_bench [seconds per side, default 3]
#include <modbus/modbus.h>

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <nlohmann/json.hpp>

#include "adapters/modbus/modbus_adapter.hpp"
#include "adapters/modbus/poll_plan.hpp"
#include "core/lane.hpp"
#include "peer_process.hpp"

namespace {

using namespace fieldlink;
using namespace fieldlink::modbus;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kDevices = 20;

// 100 points per device: 60 uint16 in a row, 20 float32 and 20 int32 with one-register gaps in
// between (max_gap bridges them), in three blocks: the plan reads each device in 3 requests.
DeviceMap device_map(int unit) {
  DeviceMap d;
  d.unit = static_cast<std::uint8_t>(unit);
  d.poll = 1ms;  // below the config's 10 ms floor on purpose: keep the bus saturated
  d.max_gap = 8;
  for (int i = 0; i < 60; ++i) {
    Point p;
    p.name = "u" + std::to_string(i);
    p.address = static_cast<std::uint16_t>(i);
    p.type = {PointType::Kind::uint16};
    d.points.push_back(p);
  }
  for (int i = 0; i < 20; ++i) {
    Point f;
    f.name = "f" + std::to_string(i);
    f.address = static_cast<std::uint16_t>(200 + 3 * i);
    f.type = {PointType::Kind::float32};
    f.order = WordOrder::cdab;
    d.points.push_back(f);
    Point n;
    n.name = "i" + std::to_string(i);
    n.address = static_cast<std::uint16_t>(400 + 3 * i);
    n.type = {PointType::Kind::int32};
    d.points.push_back(n);
  }
  return d;
}

struct Figures {
  double seconds = 0;
  std::uint64_t requests = 0;
  std::uint64_t registers = 0;
  std::uint64_t points = 0;
  double per_s(std::uint64_t n) const { return static_cast<double>(n) / seconds; }
};

modbus_t* connect(int port) {
  modbus_t* ctx = modbus_new_tcp("127.0.0.1", port);
  if (modbus_connect(ctx) == -1) {
    std::fprintf(stderr, "connect: %s\n", modbus_strerror(errno));
    std::exit(1);
  }
  return ctx;
}

// Bare libmodbus: `requests` per device, round after round, for `duration`.
Figures bare(int port, const std::vector<std::vector<ReadRequest>>& requests, size_t points,
             std::chrono::duration<double> duration) {
  modbus_t* ctx = connect(port);
  std::uint16_t buffer[125];
  Figures f;
  const auto start = Clock::now();
  while (Clock::now() - start < duration) {
    for (int d = 0; d < kDevices; ++d) {
      modbus_set_slave(ctx, d + 1);
      for (const auto& r : requests[static_cast<size_t>(d)]) {
        if (modbus_read_registers(ctx, r.start, r.count, buffer) != r.count) {
          std::fprintf(stderr, "read: %s\n", modbus_strerror(errno));
          std::exit(1);
        }
        ++f.requests;
        f.registers += r.count;
      }
    }
    f.points += points;
  }
  f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  modbus_close(ctx);
  modbus_free(ctx);
  return f;
}

class CountingSink final : public ReadingSink {
 public:
  Result push(Reading r) override {
    values += r.values.size();
    ++readings;
    return Result::accepted;
  }
  std::uint64_t values = 0;
  std::uint64_t readings = 0;
};

class QuietLog final : public Logger {
 public:
  void log(LogLevel level, const LogFields&, std::string_view m) override {
    if (level <= LogLevel::warning)
      std::fprintf(stderr, "%.*s\n", static_cast<int>(m.size()), m.data());
  }
};

Figures adapter(int port, std::chrono::duration<double> duration) {
  auto settings = std::make_shared<ModbusSettings>();
  settings->name = AdapterName("bench");
  settings->transport = Transport::tcp;
  settings->host = "127.0.0.1";
  settings->tcp_port = port;
  for (int d = 1; d <= kDevices; ++d)
    settings->devices.push_back(device_map(d));
  boost::asio::io_context loop;
  auto guard = boost::asio::make_work_guard(loop);
  CountingSink sink;
  QuietLog log;
  SystemClock clock;
  AdapterContext ctx{loop, sink, log, clock,
                     [](std::string name) { return std::make_unique<Lane>(std::move(name)); }};
  ModbusAdapter a(ctx, settings);
  a.start();
  // Warm up until every device has been read once, then count from a snapshot.
  const auto totals = [&] {
    nlohmann::json j;
    a.describe(j);
    Figures f;
    for (const auto& d : j["devices"]) {
      f.requests += d["requests"].get<std::uint64_t>();
      f.registers += d["registers"].get<std::uint64_t>();
    }
    return f;
  };
  while (sink.readings < kDevices)
    loop.run_one_for(10ms);
  const auto before = totals();
  const auto values_before = sink.values;
  const auto start = Clock::now();
  while (Clock::now() - start < duration)
    loop.run_one_for(10ms);
  loop.poll();
  auto f = totals();
  f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  f.requests -= before.requests;
  f.registers -= before.registers;
  f.points = sink.values - values_before;
  bool stopped = false;
  a.stop([&] { stopped = true; });
  while (!stopped)
    loop.run_one_for(10ms);
  return f;
}

void print(const char* name, const Figures& f) {
  std::printf(
      "  %-11s %10.0f req/s %12.0f registers/s %12.0f points/s   (%llu requests in %.2f s)\n", name,
      f.per_s(f.requests), f.per_s(f.registers), f.per_s(f.points),
      static_cast<unsigned long long>(f.requests), f.seconds);
}

}  // namespace

int main(int argc, char** argv) {
  const std::chrono::duration<double> duration(argc > 1 ? std::atof(argv[1]) : 3.0);
  fieldlink::testing::PeerProcess server(
      {FIELDLINK_MODBUS_SERVER, "--port", "0", "--size", "1000"});
  const auto line = server.wait_for_line("PORT ", 10s);
  if (line.empty()) {
    std::fprintf(stderr, "the libmodbus test server did not start\n");
    return 1;
  }
  const int port = std::stoi(line.substr(5));

  std::vector<std::vector<ReadRequest>> per_point(kDevices), coalesced(kDevices);
  size_t points = 0;
  for (int d = 0; d < kDevices; ++d) {
    const auto map = device_map(d + 1);
    points += map.points.size();
    for (const auto& p : map.points) {
      per_point[static_cast<size_t>(d)].push_back(
          {Table::holding, p.address, static_cast<std::uint16_t>(p.width()), {}});
    }
    coalesced[static_cast<size_t>(d)] = PollPlan::build(map).groups()[0].requests;
  }
  std::printf(
      "modbus bench: %d devices x %zu points, libmodbus TCP server on 127.0.0.1, %.1f s "
      "per side\n  plan: %zu requests per round (per point: %zu)\n",
      kDevices, points / kDevices, duration.count(), coalesced[0].size() * kDevices,
      per_point[0].size() * kDevices);
  const auto naive = bare(port, per_point, points, duration);
  const auto planned = bare(port, coalesced, points, duration);
  const auto ours = adapter(port, duration);
  print("per-point", naive);
  print("coalesced", planned);
  print("fieldlink", ours);
  std::printf(
      "  ratios: fieldlink/coalesced %.2f (registers/s; the cost of our code)\n"
      "          coalesced/per-point %.2f (points/s; what the plan buys)\n"
      "          fieldlink/per-point %.2f (points/s)\n",
      ours.per_s(ours.registers) / planned.per_s(planned.registers),
      planned.per_s(planned.points) / naive.per_s(naive.points),
      ours.per_s(ours.points) / naive.per_s(naive.points));
  return 0;
}
