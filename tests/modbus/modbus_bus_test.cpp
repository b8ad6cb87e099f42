// The adapter and its bus driven through the ModbusLink seam with a scripted fake: error paths
// (exception, timeout, bad frame, lost link) become counters, qualities and outcomes, and a
// write queued while a poll is on the wire runs before the next poll. Waits are on events; the
// fake's gate holds the lane inside a request so the order is deterministic, not timed.
#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <mutex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "adapters/modbus/modbus_adapter.hpp"
#include "core/lane.hpp"

namespace fieldlink::modbus {
namespace {

using namespace std::chrono_literals;
using Kind = LinkStatus::Kind;

// Shared between the test thread and the bus lane; every member under `mutex`.
struct Script {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> log;             // "read 1 holding 0", "write 1 10", "connect"
  std::map<int, LinkStatus> unit_fails;     // reads of this unit fail so
  std::map<int, LinkStatus> address_fails;  // reads starting here fail so
  int disconnect_next = 0;                  // the next N operations find the link lost
  bool hold = false;                        // block inside the next read until released
  bool holding = false;
};

class FakeLink final : public ModbusLink {
 public:
  explicit FakeLink(std::shared_ptr<Script> s) : s_(std::move(s)) {}
  bool connected() const override { return connected_; }
  LinkStatus connect(std::string&) override {
    std::lock_guard lock(s_->mutex);
    s_->log.push_back("connect");
    connected_ = true;
    return {};
  }
  void close() override { connected_ = false; }
  LinkStatus read(std::uint8_t unit, Table table, std::uint16_t address,
                  std::span<std::uint16_t> out) override {
    std::unique_lock lock(s_->mutex);
    s_->log.push_back("read " + std::to_string(unit) + " " + std::string(table_name(table)) + " " +
                      std::to_string(address));
    s_->changed.notify_all();
    if (s_->hold) {
      s_->holding = true;
      s_->changed.notify_all();
      s_->changed.wait(lock, [&] { return !s_->hold; });
      s_->holding = false;
    }
    if (auto st = lost()) return *st;
    if (auto it = s_->unit_fails.find(unit); it != s_->unit_fails.end()) return it->second;
    if (auto it = s_->address_fails.find(address); it != s_->address_fails.end()) {
      return it->second;
    }
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = static_cast<std::uint16_t>(address + i);
    return {};
  }
  LinkStatus write_coils(std::uint8_t unit, std::uint16_t address,
                         std::span<const std::uint16_t>) override {
    std::lock_guard lock(s_->mutex);
    s_->log.push_back("write " + std::to_string(unit) + " " + std::to_string(address));
    s_->changed.notify_all();
    return lost().value_or(LinkStatus{});
  }
  LinkStatus write_registers(std::uint8_t unit, std::uint16_t address,
                             std::span<const std::uint16_t> w) override {
    return write_coils(unit, address, w);
  }

 private:
  std::optional<LinkStatus> lost() {
    if (s_->disconnect_next == 0) return std::nullopt;
    --s_->disconnect_next;
    connected_ = false;
    return LinkStatus{Kind::disconnected, 104, "Connection reset by peer"};
  }
  std::shared_ptr<Script> s_;
  bool connected_ = false;
};

class Sink final : public ReadingSink {
 public:
  Result push(Reading r) override {
    readings.push_back(std::move(r));
    return Result::accepted;
  }
  std::vector<Reading> readings;
};

class NullLog final : public Logger {
 public:
  void log(LogLevel, const LogFields& f, std::string_view) override {
    events.emplace_back(f.event);
  }
  std::vector<std::string> events;
};

Point pt(std::string name, Table table, std::uint16_t address, bool writable = false) {
  Point p;
  p.name = std::move(name);
  p.table = table;
  p.address = address;
  p.type = {is_bit_table(table) ? PointType::Kind::boolean : PointType::Kind::uint16};
  p.writable = writable;
  return p;
}

class BusTest : public ::testing::Test {
 protected:
  void start(std::vector<DeviceMap> devices) {
    auto s = std::make_shared<ModbusSettings>();
    s->name = AdapterName("bus");
    s->backoff_max = 60s;  // an offline unit is not probed again during a test
    s->devices = std::move(devices);
    AdapterContext ctx{loop_, sink_, log_, clock_,
                       [](std::string n) { return std::make_unique<Lane>(std::move(n)); }};
    adapter_ = std::make_unique<ModbusAdapter>(ctx, s, std::make_unique<FakeLink>(script_));
    adapter_->start();
  }
  void TearDown() override {
    if (!adapter_) return;
    {
      std::lock_guard lock(script_->mutex);
      script_->hold = false;
      script_->changed.notify_all();
    }
    bool stopped = false;
    adapter_->stop([&] { stopped = true; });
    run_until([&] { return stopped; });
    adapter_.reset();
  }
  bool run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop_.run_one_for(10ms);
    }
    return true;
  }
  nlohmann::json device_status(size_t i) {
    nlohmann::json j;
    adapter_->describe(j);
    return j["devices"][i];
  }
  Outcome call(const std::string& target, const std::string& payload) {
    std::optional<Outcome> out;
    Command c{Command::Kind::method, *SourceAddress::parse(target), "write", payload, {}, {}, {}};
    adapter_->execute(c, [&](Outcome o) { out = std::move(o); });
    EXPECT_TRUE(run_until([&] { return out.has_value(); }));
    return out.value_or(Outcome{0, ""});
  }

  boost::asio::io_context loop_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_{
      loop_.get_executor()};
  SystemClock clock_;
  Sink sink_;
  NullLog log_;
  std::shared_ptr<Script> script_ = std::make_shared<Script>();
  std::unique_ptr<ModbusAdapter> adapter_;
};

TEST_F(BusTest, AnExceptionGivesAnUncertainReadingWithTheOtherValues) {
  script_->address_fails[50] = {Kind::exception, 2, "Illegal data address"};
  DeviceMap d;
  d.unit = 1;
  d.poll = 20ms;
  d.points = {pt("ok", Table::holding, 7), pt("bad", Table::holding, 50)};
  start({d});
  ASSERT_TRUE(run_until([&] { return sink_.readings.size() >= 2; }));
  const auto& r = sink_.readings.back();
  EXPECT_EQ(r.quality, Quality::uncertain);
  ASSERT_EQ(r.values.size(), 1u);
  EXPECT_EQ(r.values[0], (std::pair<std::string, Value>{"ok", std::int64_t{7}}));
  ASSERT_TRUE(run_until([&] { return device_status(0)["exceptions"].get<int>() >= 2; }));
  EXPECT_EQ(device_status(0)["state"], "online");  // an exception means the unit is alive
}

TEST_F(BusTest, ASilentUnitGoesOfflineOnceAndTheOtherKeepsPolling) {
  script_->unit_fails[2] = {Kind::timeout, 110, "Connection timed out"};
  DeviceMap a;
  a.unit = 1;
  a.poll = 20ms;
  a.points = {pt("x", Table::holding, 0), pt("c", Table::coil, 3)};
  DeviceMap b = a;
  b.unit = 2;
  start({a, b});
  ASSERT_TRUE(run_until([&] { return device_status(1)["state"] == "offline"; }));
  const auto before = sink_.readings.size();
  ASSERT_TRUE(run_until([&] { return sink_.readings.size() >= before + 5; }));
  for (size_t i = before; i < sink_.readings.size(); ++i)
    EXPECT_EQ(sink_.readings[i].source.str(), "modbus://bus/1");
  // The silent unit's polls stopped at their first request (the plan reads coils first): its
  // holding register was never asked for, so a dead unit costs one timeout per poll, not two.
  std::lock_guard lock(script_->mutex);
  EXPECT_EQ(std::count(script_->log.begin(), script_->log.end(), "read 2 coil 3"), 2);
  EXPECT_EQ(std::count(script_->log.begin(), script_->log.end(), "read 2 holding 0"), 0);
  EXPECT_EQ(std::count(log_.events.begin(), log_.events.end(), "modbus.device_offline"), 1);
}

TEST_F(BusTest, ALostLinkIsReconnectedAndAWriteOnItAnswers504) {
  DeviceMap d;
  d.unit = 1;
  d.poll = 20ms;
  d.points = {pt("sp", Table::holding, 10, true)};
  start({d});
  ASSERT_TRUE(run_until([&] { return !sink_.readings.empty(); }));
  {
    std::lock_guard lock(script_->mutex);
    script_->hold = true;
  }
  {  // hold the lane inside a read, so the write and the link loss meet deterministically
    std::unique_lock lock(script_->mutex);
    script_->changed.wait(lock, [&] { return script_->holding; });
    script_->disconnect_next = 2;  // the held read and the write find the link gone
  }
  std::optional<Outcome> out;
  Command c{Command::Kind::method,
            *SourceAddress::parse("modbus://bus/1"),
            "write",
            R"({"point": "sp", "value": 5})",
            {},
            {},
            {}};
  adapter_->execute(c, [&](Outcome o) { out = std::move(o); });
  {
    std::lock_guard lock(script_->mutex);
    script_->hold = false;
    script_->changed.notify_all();
  }
  ASSERT_TRUE(run_until([&] { return out.has_value(); }));
  EXPECT_EQ(out->status, 504) << out->payload;
  // Polling goes on after a reconnect (the fake accepts the connect at once).
  const auto before = sink_.readings.size();
  ASSERT_TRUE(run_until([&] { return sink_.readings.size() > before; }));
  std::lock_guard lock(script_->mutex);
  EXPECT_GE(std::count(script_->log.begin(), script_->log.end(), "connect"), 2);
}

TEST_F(BusTest, AWriteJumpsAheadOfDuePolls) {
  std::vector<DeviceMap> devices;
  for (int u = 1; u <= 5; ++u) {
    DeviceMap d;
    d.unit = static_cast<std::uint8_t>(u);
    d.poll = 10ms;
    d.points = {pt("v", Table::holding, 0, true)};
    devices.push_back(d);
  }
  start(devices);
  ASSERT_TRUE(run_until([&] { return sink_.readings.size() >= 5; }));
  {
    std::lock_guard lock(script_->mutex);
    script_->hold = true;
  }
  size_t held_at = 0;
  {
    std::unique_lock lock(script_->mutex);
    script_->changed.wait(lock, [&] { return script_->holding; });
    held_at = script_->log.size();
  }
  // While the lane is inside a read, every other unit's poll falls due.
  std::optional<Outcome> out;
  Command c{Command::Kind::method,
            *SourceAddress::parse("modbus://bus/5"),
            "write",
            R"({"point": "v", "value": 9})",
            {},
            {},
            {}};
  adapter_->execute(c, [&](Outcome o) { out = std::move(o); });
  {
    std::lock_guard lock(script_->mutex);
    script_->hold = false;
    script_->changed.notify_all();
  }
  ASSERT_TRUE(run_until([&] { return out.has_value(); }));
  EXPECT_EQ(out->status, 200);
  std::lock_guard lock(script_->mutex);
  ASSERT_GT(script_->log.size(), held_at);
  EXPECT_EQ(script_->log[held_at], "write 5 0");  // the very next request on the bus
}

}  // namespace
}  // namespace fieldlink::modbus
