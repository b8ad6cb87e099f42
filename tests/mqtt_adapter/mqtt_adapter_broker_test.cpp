// The MQTT adapter against a real mosquitto: uplink at volume and in order, every downlink kind,
// invalid payloads, backpressure and a broker restart. No sleeps: every wait is for an event
// (a reading in the sink, a message at a device, an outcome) with a deadline.
#include <utility>  // before asio, for Boost 1.74 under C++20

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "adapters/builtin.hpp"
#include "adapters/mqtt/mqtt_adapter.hpp"
#include "config/loader.hpp"
#include "mosquitto_broker.hpp"
#include "test_mqtt_client.hpp"

namespace fieldlink::testing {
namespace {

using namespace std::chrono_literals;
using mqtt::MqttAdapter;

// Thread-safe, as the adapter requires; can refuse one chosen reading once, or hold the network
// thread inside push (a stand-in for a slow journal write) until released.
class Sink final : public ReadingSink {
 public:
  Result push(Reading r) override {
    std::unique_lock lock(mutex_);
    if (refuse_seq_ >= 0 && r.kind == ReadingKind::telemetry && seq_of(r) == refuse_seq_) {
      refuse_seq_ = -1;
      ++refused_;
      return Result::backpressure;
    }
    if (hold_) {
      holding_ = true;
      changed_.notify_all();
      changed_.wait(lock, [this] { return !hold_; });
      holding_ = false;
    }
    readings_.push_back(std::move(r));
    changed_.notify_all();
    return Result::accepted;
  }

  static std::int64_t seq_of(const Reading& r) {
    for (const auto& [k, v] : r.values)
      if (k == "seq" && std::holds_alternative<std::int64_t>(v)) return std::get<std::int64_t>(v);
    return -1;
  }
  // Waits until `done(readings)` holds.
  template <class P>
  bool wait(P done, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return done(readings_); });
  }
  std::vector<Reading> of_kind(ReadingKind k) {
    std::lock_guard lock(mutex_);
    std::vector<Reading> out;
    for (const auto& r : readings_)
      if (r.kind == k) out.push_back(r);
    return out;
  }
  void refuse_once(std::int64_t seq) {
    std::lock_guard lock(mutex_);
    refuse_seq_ = seq;
  }
  void hold() {
    std::lock_guard lock(mutex_);
    hold_ = true;
  }
  bool wait_holding(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [this] { return holding_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    hold_ = false;
    changed_.notify_all();
  }
  int refused() {
    std::lock_guard lock(mutex_);
    return refused_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Reading> readings_;
  std::int64_t refuse_seq_ = -1;
  int refused_ = 0;
  bool hold_ = false, holding_ = false;
};

size_t telemetry_count(const std::vector<Reading>& rs) {
  return static_cast<size_t>(std::count_if(
      rs.begin(), rs.end(), [](const Reading& r) { return r.kind == ReadingKind::telemetry; }));
}

class StderrLogger final : public Logger {
 public:
  void log(LogLevel, const LogFields& f, std::string_view m) override {
    std::lock_guard lock(mutex_);
    std::fprintf(stderr, "[adapter] %.*s: %.*s\n", static_cast<int>(f.event.size()), f.event.data(),
                 static_cast<int>(m.size()), m.data());
  }

 private:
  std::mutex mutex_;
};

class AdapterOnBroker : public ::testing::Test {
 protected:
  explicit AdapterOnBroker(MosquittoOptions options = {}) : broker(options) {}

  // How the adapter reaches the broker (make_broker_client picks the client from it).
  virtual std::string endpoint_yaml() {
    return "    port: " + std::to_string(broker.plain_port()) + "\n";
  }

  void SetUp() override {
    std::ofstream(broker.dir() + "/fieldlink.yaml")
        << "adapters:\n"
           "  - name: plant\n"
           "    type: mqtt\n"
        << endpoint_yaml()
        << "    client_id: fieldlink-it\n"
           "    reconnect_min: 1s\n"
           "    reconnect_max: 2s\n"
           "    topics:\n"
           "      - { filter: plant/+/telemetry, device: \"{1}\" }\n"
           "      - { filter: plant/+/level, device: \"{1}\", format: value, name: level }\n"
           "    c2d_topic: plant/{device}/c2d\n"
           "    method_topic: plant/{device}/methods/{method}\n"
           "    desired_topic: plant/{device}/desired\n"
           "    reported_topic: plant/{device}/reported\n";
    auto r = config::load_config(broker.dir() + "/fieldlink.yaml", builtin_adapters());
    ASSERT_TRUE(r.config) << r.diagnostics.to_string();
    settings = std::dynamic_pointer_cast<const mqtt::MqttSettings>(r.config->adapters[0].settings);
    thread = std::thread([this] { loop.run(); });
    on_loop([this] {
      adapter =
          std::make_unique<MqttAdapter>(AdapterContext{loop, sink, log, clock, nullptr}, settings);
      adapter->start();
    });
    ASSERT_TRUE(wait_status([](const nlohmann::json& s) { return s["connected"] == true; }));
  }

  void TearDown() override {
    if (adapter) {
      std::promise<void> stopped;
      boost::asio::post(loop, [&] { adapter->stop([&] { stopped.set_value(); }); });
      stopped.get_future().wait_for(10s);
      on_loop([this] { adapter.reset(); });
    }
    guard.reset();
    thread.join();
  }

  template <class F>
  std::invoke_result_t<F> on_loop(F f) {
    std::packaged_task<std::invoke_result_t<F>()> task(std::move(f));
    auto result = task.get_future();
    boost::asio::post(loop, [&task] { task(); });
    return result.get();
  }

  nlohmann::json status() {
    return on_loop([this] {
      nlohmann::json j;
      adapter->describe(j);
      return j;
    });
  }

  // The adapter's state is polled on its loop only until the wanted event shows; 20 ms steps.
  template <class P>
  bool wait_status(P done, std::chrono::milliseconds timeout = 20s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (done(status())) return true;
      std::promise<void> tick;
      auto t = std::make_shared<boost::asio::steady_timer>(loop, 20ms);
      t->async_wait([&tick, t](auto) { tick.set_value(); });
      tick.get_future().wait();
    }
    return false;
  }

  // Twenty readings up from one device and a C2D message down to it.
  void readings_up_and_c2d_down();

  Outcome execute(Command::Kind kind, const std::string& device, const std::string& name,
                  const std::string& payload, std::chrono::milliseconds timeout) {
    std::promise<Outcome> outcome;
    const Command c{kind, *SourceAddress::parse("mqtt://plant/" + device), name, payload, {},
                    "42", std::chrono::steady_clock::now() + timeout};
    boost::asio::post(loop, [&] { adapter->execute(c, [&](Outcome o) { outcome.set_value(o); }); });
    auto f = outcome.get_future();
    if (f.wait_for(timeout + 10s) != std::future_status::ready) return Outcome{0, "no outcome"};
    return f.get();
  }

  MosquittoBroker broker;
  boost::asio::io_context loop;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{
      loop.get_executor()};
  std::thread thread;
  Sink sink;
  StderrLogger log;
  SystemClock clock;
  std::shared_ptr<const mqtt::MqttSettings> settings;
  std::unique_ptr<MqttAdapter> adapter;
};

// Per device, the seq values in arrival order with redeliveries (a repeat of an earlier seq)
// left out; a gap or a reordering shows as a mismatch.
std::map<std::string, std::vector<std::int64_t>> first_arrivals(const std::vector<Reading>& rs) {
  std::map<std::string, std::vector<std::int64_t>> out;
  for (const auto& r : rs) {
    if (r.kind != ReadingKind::telemetry) continue;
    auto& seqs = out[r.source.str()];
    const auto s = Sink::seq_of(r);
    if (std::find(seqs.begin(), seqs.end(), s) == seqs.end()) seqs.push_back(s);
  }
  return out;
}

std::vector<std::int64_t> iota(std::int64_t from, std::int64_t to) {
  std::vector<std::int64_t> v;
  for (auto i = from; i < to; ++i)
    v.push_back(i);
  return v;
}

TEST_F(AdapterOnBroker, TwentyDevicesFiftyReadingsEachInOrder) {
  TestMqttClient devices("devices", broker.plain_port());
  for (int i = 0; i < 50; ++i) {
    for (int d = 0; d < 20; ++d) {
      devices.publish("plant/d" + std::to_string(d) + "/telemetry",
                      "{\"seq\": " + std::to_string(i) + ", \"t\": 20.5}");
    }
  }
  ASSERT_TRUE(devices.wait_acked(20s));
  ASSERT_TRUE(sink.wait([](const auto& rs) { return telemetry_count(rs) >= 1000; }))
      << telemetry_count(sink.of_kind(ReadingKind::telemetry));
  const auto readings = sink.of_kind(ReadingKind::telemetry);
  EXPECT_EQ(readings.size(), 1000u);  // no redelivery without a reason
  const auto seqs = first_arrivals(readings);
  ASSERT_EQ(seqs.size(), 20u);
  for (int d = 0; d < 20; ++d) {
    EXPECT_EQ(seqs.at("mqtt://plant/d" + std::to_string(d)), iota(0, 50)) << d;
  }
  const auto s = status();
  EXPECT_EQ(s["readings"], 1000);
  EXPECT_EQ(s["devices"]["d7"]["messages"], 50);
  EXPECT_EQ(s["devices"]["d7"]["online"], true);
}

TEST_F(AdapterOnBroker, C2dReachesTheDevicesTopic) {
  TestMqttClient device("s1", broker.plain_port());
  device.subscribe("plant/s1/c2d");
  const auto outcome = execute(Command::Kind::c2d, "s1", {}, "open valve", 10s);
  EXPECT_EQ(outcome.status, 200) << outcome.payload;
  const auto got = device.wait_received(1, 10s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], (TestMqttClient::Received{"plant/s1/c2d", "open valve"}));
}

TEST_F(AdapterOnBroker, DesiredPatchReachesTheDevicesTopic) {
  TestMqttClient device("s1", broker.plain_port());
  device.subscribe("plant/s1/desired");
  const auto outcome = execute(Command::Kind::desired, "s1", {}, R"({"rate":5})", 10s);
  EXPECT_EQ(outcome.status, 200) << outcome.payload;
  const auto got = device.wait_received(1, 10s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], (TestMqttClient::Received{"plant/s1/desired", R"({"rate":5})"}));
}

TEST_F(AdapterOnBroker, MethodRoundTripsWithTheDevicesAnswerAndStatus) {
  TestMqttClient device("s1", broker.plain_port());
  device.on_message([](TestMqttClient& c, const TestMqttClient::Received& m) {
    c.publish(m.first + "/res/201", R"({"echo":)" + m.second + "}");
  });
  device.subscribe("plant/s1/methods/+/+");
  const auto outcome = execute(Command::Kind::method, "s1", "reset", R"({"hard":true})", 10s);
  EXPECT_EQ(outcome.status, 201);
  EXPECT_EQ(outcome.payload, R"({"echo":{"hard":true}})");
  const auto got = device.wait_received(1, 1s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, "plant/s1/methods/reset/42");
}

TEST_F(AdapterOnBroker, MethodToASilentDeviceIs504AtItsDeadline) {
  TestMqttClient device("s1", broker.plain_port());
  device.subscribe("plant/s1/methods/+/+");
  const auto started = std::chrono::steady_clock::now();
  const auto outcome = execute(Command::Kind::method, "s1", "reset", "{}", 1500ms);
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(outcome.status, 504);
  EXPECT_GE(took, 1500ms);
  EXPECT_LT(took, 2500ms);
  EXPECT_EQ(device.wait_received(1, 1s).size(), 1u);  // it was asked, and kept silent
}

TEST_F(AdapterOnBroker, ReportedMessageIsDelivered) {
  TestMqttClient device("s1", broker.plain_port());
  device.publish("plant/s1/reported", R"({"fw": "1.4", "cfg": {"rate": 5}})");
  ASSERT_TRUE(sink.wait([](const auto& rs) {
    return std::any_of(rs.begin(), rs.end(), [](const Reading& r) {
      return r.kind == ReadingKind::reported && r.values.size() == 2;
    });
  }));
  for (const auto& r : sink.of_kind(ReadingKind::reported)) {
    if (r.values.size() != 2) continue;  // the presence reading
    EXPECT_EQ(r.source.str(), "mqtt://plant/s1");
    EXPECT_EQ(r.values, (std::vector<std::pair<std::string, Value>>{{"cfg.rate", std::int64_t{5}},
                                                                    {"fw", std::string("1.4")}}));
  }
}

TEST_F(AdapterOnBroker, InvalidPayloadsAreCountedAndValidOnesStillFlow) {
  TestMqttClient devices("devices", broker.plain_port());
  for (int i = 0; i < 10; ++i) {
    devices.publish("plant/s1/telemetry",
                    i % 2 ? "not json" : "{\"seq\": " + std::to_string(i) + "}");
    devices.publish("plant/s2/level", i % 2 ? "\xff\xfe" : std::to_string(i));
  }
  ASSERT_TRUE(devices.wait_acked(10s));
  // The status is read as it grows: a device not seen yet has no entry.
  auto invalid = [](const nlohmann::json& s, const char* device) {
    return s.at("devices").value(device, nlohmann::json::object()).value("invalid", 0);
  };
  ASSERT_TRUE(wait_status([&](const nlohmann::json& s) {
    return invalid(s, "s1") == 5 && invalid(s, "s2") == 5 && s.at("readings") == 10;
  })) << status().dump();
  const auto readings = sink.of_kind(ReadingKind::telemetry);
  ASSERT_EQ(readings.size(), 10u);
  EXPECT_EQ(first_arrivals(readings).at("mqtt://plant/s1"),
            (std::vector<std::int64_t>{0, 2, 4, 6, 8}));
}

TEST_F(AdapterOnBroker, PayloadsOverMaxPayloadAreSkippedAndTheAdapterKeepsGoing) {
  ASSERT_EQ(settings->max_payload.bytes, 64u * 1024);  // the default
  TestMqttClient devices("devices", broker.plain_port());
  const auto padded = [](std::int64_t seq, std::size_t size) {
    auto text = "{\"seq\": " + std::to_string(seq) + ", \"pad\": \"";
    text += std::string(size - text.size() - 2, 'x') + "\"}";
    return text;
  };
  for (int i = 0; i < 6; ++i) {
    // Odd seqs are over the limit (by one byte, or 1 MiB); even ones exactly at it, or small.
    const std::size_t size = i % 2 ? (i == 3 ? 1u << 20 : 64u * 1024 + 1) : 64u * 1024;
    devices.publish("plant/s1/telemetry",
                    i % 4 == 2 ? "{\"seq\": " + std::to_string(i) + "}" : padded(i, size));
  }
  ASSERT_TRUE(devices.wait_acked(10s));
  ASSERT_TRUE(wait_status([](const nlohmann::json& s) {
    return s.at("too_large") == 3 && s.at("readings") == 3;
  })) << status().dump();
  EXPECT_EQ(status().at("devices").at("s1").at("invalid"), 3);
  EXPECT_EQ(first_arrivals(sink.of_kind(ReadingKind::telemetry)).at("mqtt://plant/s1"),
            (std::vector<std::int64_t>{0, 2, 4}));
}

TEST_F(AdapterOnBroker, BackpressureLosesNothingTheBrokerWasNotAcknowledged) {
  // The sink refuses seq 5 once. If libmosquitto had sent its PUBACK before the callback, the
  // broker would have forgotten it and it would be missing; the adapter cuts the connection
  // instead, so the broker sends it again after the reconnect.
  sink.refuse_once(5);
  TestMqttClient devices("devices", broker.plain_port());
  for (int i = 0; i < 20; ++i)
    devices.publish("plant/s1/telemetry", "{\"seq\": " + std::to_string(i) + "}");
  ASSERT_TRUE(devices.wait_acked(10s));
  ASSERT_TRUE(sink.wait([](const auto& rs) {
    const auto seqs = first_arrivals(rs);
    return seqs.contains("mqtt://plant/s1") && seqs.at("mqtt://plant/s1").size() == 20;
  })) << status().dump();
  EXPECT_EQ(sink.refused(), 1);
  EXPECT_EQ(first_arrivals(sink.of_kind(ReadingKind::telemetry)).at("mqtt://plant/s1"),
            iota(0, 20));
  const auto s = status();
  EXPECT_EQ(s["backpressure"], 1);
  EXPECT_GE(s["connects"], 2);
}

class AdapterOnPersistentBroker : public AdapterOnBroker {
 protected:
  AdapterOnPersistentBroker() : AdapterOnBroker(MosquittoOptions{true}) {}
};

TEST_F(AdapterOnPersistentBroker, BrokerRestartLosesNoHeldMessage) {
  {
    TestMqttClient devices("devices", broker.plain_port());
    for (int i = 0; i < 50; ++i)
      devices.publish("plant/s1/telemetry", "{\"seq\": " + std::to_string(i) + "}");
    ASSERT_TRUE(devices.wait_acked(10s));
    ASSERT_TRUE(sink.wait([](const auto& rs) { return telemetry_count(rs) >= 50; }));

    // The adapter is stuck inside push() on seq 50 while 50..99 are published: the broker holds
    // them (in flight or queued) for the adapter's persistent session when it goes down.
    sink.hold();
    for (int i = 50; i < 100; ++i)
      devices.publish("plant/s1/telemetry", "{\"seq\": " + std::to_string(i) + "}");
    ASSERT_TRUE(devices.wait_acked(10s));
    ASSERT_TRUE(sink.wait_holding(10s));
  }
  broker.stop();  // SIGTERM: mosquitto saves the sessions and their messages
  sink.release();
  ASSERT_TRUE(wait_status([](const nlohmann::json& s) { return s["connected"] == false; }));
  broker.start();
  {
    TestMqttClient devices("devices", broker.plain_port());
    for (int i = 100; i < 150; ++i)
      devices.publish("plant/s1/telemetry", "{\"seq\": " + std::to_string(i) + "}");
    ASSERT_TRUE(devices.wait_acked(10s));
  }
  ASSERT_TRUE(sink.wait([](const auto& rs) {
    const auto seqs = first_arrivals(rs);
    return seqs.contains("mqtt://plant/s1") && seqs.at("mqtt://plant/s1").size() >= 150;
  })) << first_arrivals(sink.of_kind(ReadingKind::telemetry))["mqtt://plant/s1"].size();
  EXPECT_EQ(first_arrivals(sink.of_kind(ReadingKind::telemetry)).at("mqtt://plant/s1"),
            iota(0, 150));
  const auto s = status();
  EXPECT_EQ(s["connected"], true);
  EXPECT_GE(s["connects"], 2);
}

// The two other ways to the broker: TLS goes through libmosquitto (MosquittoClient), a unix
// socket through LocalBrokerClient. Each carries readings up and a C2D message down.
void AdapterOnBroker::readings_up_and_c2d_down() {
  TestMqttClient devices("devices", broker.plain_port());
  devices.subscribe("plant/s1/c2d");
  for (int i = 0; i < 20; ++i)
    devices.publish("plant/s1/telemetry", "{\"seq\": " + std::to_string(i) + "}");
  ASSERT_TRUE(devices.wait_acked(10s));
  ASSERT_TRUE(sink.wait([](const auto& rs) { return telemetry_count(rs) >= 20; }));
  EXPECT_EQ(first_arrivals(sink.of_kind(ReadingKind::telemetry)).at("mqtt://plant/s1"),
            iota(0, 20));
  const auto outcome = execute(Command::Kind::c2d, "s1", {}, "open valve", 10s);
  EXPECT_EQ(outcome.status, 200) << outcome.payload;
  EXPECT_EQ(devices.wait_received(1, 10s),
            (std::vector<TestMqttClient::Received>{{"plant/s1/c2d", "open valve"}}));
}

class AdapterOverTls : public AdapterOnBroker {
 protected:
  std::string endpoint_yaml() override {
    return "    host: localhost\n    port: " + std::to_string(broker.tls_port()) +
           "\n    tls: true\n    ca_file: " + broker.ca_file() + "\n";
  }
};

TEST_F(AdapterOverTls, ReadingsUpAndC2dDownThroughLibmosquitto) {
  readings_up_and_c2d_down();
  EXPECT_EQ(status()["broker"], "localhost:" + std::to_string(broker.tls_port()));
}

class AdapterOnUnixSocket : public AdapterOnBroker {
 protected:
  std::string endpoint_yaml() override { return "    socket: " + broker.unix_socket() + "\n"; }
};

TEST_F(AdapterOnUnixSocket, ReadingsUpAndC2dDownThroughTheOwnClient) {
  readings_up_and_c2d_down();
  EXPECT_EQ(status()["broker"], "unix:" + broker.unix_socket());
}

}  // namespace
}  // namespace fieldlink::testing
