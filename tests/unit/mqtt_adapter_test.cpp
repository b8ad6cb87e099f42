// The MQTT adapter driven through the BrokerClient seam: no broker, no network; a fake client
// plays the broker's part (messages, acknowledgements) and records what the adapter does.
#include <utility>  // before asio, for Boost 1.74 under C++20

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <mutex>

#include "adapters/builtin.hpp"
#include "adapters/mqtt/mqtt_adapter.hpp"
#include "config/loader.hpp"
#include "config_test_support.hpp"

namespace fieldlink::mqtt {
namespace {

using namespace std::chrono_literals;

class FakeClient final : public BrokerClient {
 public:
  struct Published {
    std::string topic, payload;
    int mid;
  };
  BrokerStatus start(Events e) override {
    events = std::move(e);
    return start_status;
  }
  void stop() override { ++stops; }
  BrokerStatus subscribe(const std::vector<std::string>& f) override {
    subscriptions = f;
    return {};
  }
  BrokerStatus publish(const std::string& topic, std::string_view payload, int& mid) override {
    if (!publish_status.ok()) return publish_status;
    mid = next_mid++;
    published.push_back({topic, std::string(payload), mid});
    return {};
  }
  void cut() override { ++cuts; }
  void acks_released() override { ++releases; }

  void message(std::string_view topic, std::string_view payload, bool retained = false) {
    events.message(InboundMessage{topic, payload, 1, retained});
  }

  Events events;
  BrokerStatus start_status, publish_status;
  std::vector<std::string> subscriptions;
  std::vector<Published> published;
  int next_mid = 1, cuts = 0, stops = 0, releases = 0;
};

class TestSink final : public ReadingSink {
 public:
  Result push(Reading r) override {
    std::lock_guard lock(mutex_);
    if (refuse > 0) {
      --refuse;
      return Result::backpressure;
    }
    readings.push_back(std::move(r));
    return Result::accepted;
  }
  std::vector<Reading> of_kind(ReadingKind k) {
    std::lock_guard lock(mutex_);
    std::vector<Reading> out;
    for (const auto& r : readings)
      if (r.kind == k) out.push_back(r);
    return out;
  }
  // Durability marks: a mark per accepted reading; the test says what is durable.
  std::uint64_t mark() const override {
    std::lock_guard lock(mutex_);
    return readings.size();
  }
  std::uint64_t durable() const override { return durable_mark; }
  std::shared_ptr<void> watch_durable(std::function<void()> advanced) override {
    auto w = std::make_shared<std::function<void()>>(std::move(advanced));
    watcher = w;
    return w;
  }
  void hurry() override { ++hurries; }
  void advance(std::uint64_t to) {
    durable_mark = to;
    if (auto w = watcher.lock()) (*w)();
  }

  int refuse = 0;
  std::vector<Reading> readings;
  std::uint64_t durable_mark = 0;
  int hurries = 0;
  std::weak_ptr<std::function<void()>> watcher;

 private:
  mutable std::mutex mutex_;
};

class NullLogger final : public Logger {
 public:
  void log(LogLevel, const LogFields& f, std::string_view) override {
    events.emplace_back(f.event);
  }
  std::vector<std::string> events;
};

std::shared_ptr<const MqttSettings> settings(const std::string& extra = {}) {
  fieldlink::testing::TempDir dir;
  const auto r = config::load_config(
      dir.write("f.yaml",
                "adapters:\n"
                "  - name: plant\n"
                "    type: mqtt\n"
                "    topics:\n"
                "      - { filter: plant/+/telemetry, device: \"{1}\" }\n"
                "      - { filter: plant/+/level, device: \"{1}\", format: value, name: level }\n"
                "    c2d_topic: plant/{device}/c2d\n"
                "    method_topic: plant/{device}/methods/{method}\n"
                "    desired_topic: plant/{device}/desired\n"
                "    reported_topic: plant/{device}/reported\n"
                "    offline_after: 1s\n" +
                    extra),
      builtin_adapters());
  EXPECT_TRUE(r.config) << r.diagnostics.to_string();
  return std::dynamic_pointer_cast<const MqttSettings>(r.config->adapters.at(0).settings);
}

class MqttAdapterTest : public ::testing::Test {
 protected:
  MqttAdapterTest()
      : adapter(AdapterContext{loop, sink, log, clock, nullptr}, settings(),
                [this](BrokerEndpoint e) {
                  endpoint = e;
                  auto c = std::make_unique<FakeClient>();
                  client = c.get();
                  return c;
                }) {
    adapter.start();
    client->events.connected(true, false, "");
    loop.poll();
  }

  template <class P>
  bool run_until(P done, std::chrono::milliseconds timeout = 3s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      loop.run_one_for(10ms);
    }
    return true;
  }
  nlohmann::json status() {
    nlohmann::json j;
    adapter.describe(j);
    return j;
  }
  Command command(Command::Kind kind, std::string device, std::string name = {},
                  std::string payload = {}) {
    return Command{kind,
                   *SourceAddress::parse("mqtt://plant/" + device),
                   std::move(name),
                   std::move(payload),
                   {},
                   "17",
                   clock.now() + 200ms};
  }

  boost::asio::io_context loop;
  TestSink sink;
  NullLogger log;
  ManualClock clock;
  BrokerEndpoint endpoint;
  FakeClient* client = nullptr;
  MqttAdapter adapter;
};

TEST_F(MqttAdapterTest, SubscribesToTopicsAnswersAndReported) {
  EXPECT_EQ(client->subscriptions,
            (std::vector<std::string>{"plant/+/telemetry", "plant/+/level",
                                      "plant/+/methods/+/+/res/#", "plant/+/reported"}));
  EXPECT_EQ(endpoint.client_id, "fieldlink-plant");
  EXPECT_EQ(status()["connected"], true);
}

TEST_F(MqttAdapterTest, MessageBecomesReadingInsideTheCallback) {
  client->message("plant/s1/telemetry", R"({"t": 21.5})");
  // Pushed synchronously, before the callback returned (no loop run yet).
  auto readings = sink.of_kind(ReadingKind::telemetry);
  ASSERT_EQ(readings.size(), 1u);
  EXPECT_EQ(readings[0].source.str(), "mqtt://plant/s1");
  EXPECT_EQ(readings[0].sampled_at, clock.wall_now());
  EXPECT_EQ(readings[0].values, (std::vector<std::pair<std::string, Value>>{{"t", 21.5}}));
  client->message("plant/s2/level", "7");
  EXPECT_EQ(sink.of_kind(ReadingKind::telemetry).at(1).values.at(0).first, "level");
  loop.poll();
  const auto s = status();
  EXPECT_EQ(s["readings"], 2);
  EXPECT_EQ(s["devices"]["s1"]["messages"], 1);
  EXPECT_EQ(s["devices"]["s1"]["online"], true);
}

// The adapter lets its client hold each PUBACK until the sink says the message's reading is
// durable: the client reads the marks through the events and is woken when they advance.
TEST_F(MqttAdapterTest, AcknowledgementsWaitForTheSinksDurabilityMarks) {
  client->message("plant/s1/telemetry", R"({"t": 1})");
  EXPECT_EQ(client->events.hold(), 1u);
  client->message("elsewhere/x", "1");  // pushes nothing: goes with the message before it
  EXPECT_EQ(client->events.hold(), 1u);
  client->message("plant/s2/level", "7");
  EXPECT_EQ(client->events.hold(), 2u);
  EXPECT_EQ(client->events.durable(), 0u);
  sink.advance(1);
  EXPECT_EQ(client->events.durable(), 1u);
  EXPECT_EQ(client->releases, 1);
  client->events.hurry();
  EXPECT_EQ(sink.hurries, 1);
  // After stop the adapter no longer watches: nothing wakes a stopped client.
  bool done = false;
  adapter.stop([&] { done = true; });
  loop.poll();
  ASSERT_TRUE(done);
  sink.advance(2);
  EXPECT_EQ(client->releases, 1);
}

TEST_F(MqttAdapterTest, InvalidPayloadsAreCountedPerDeviceAndSkipped) {
  client->message("plant/s1/telemetry", "{broken");
  client->message("plant/s1/telemetry", "[1]");
  client->message("plant/s1/telemetry", R"({"t": 1})");
  client->message("plant/a+b/level", "1");  // not a valid key: counted for the adapter
  client->message("elsewhere/x", "1");
  loop.poll();
  EXPECT_EQ(sink.of_kind(ReadingKind::telemetry).size(), 1u);
  const auto s = status();
  EXPECT_EQ(s["devices"]["s1"]["invalid"], 2);
  EXPECT_EQ(s["devices"]["s1"]["messages"], 1);
  EXPECT_EQ(s["unattributed_invalid"], 1);
  EXPECT_EQ(s["unmatched"], 1);
  // Logged once per device per interval, not once per message.
  EXPECT_EQ(std::count(log.events.begin(), log.events.end(), "mqtt.invalid_payload"), 2);
}

TEST_F(MqttAdapterTest, PayloadsOverMaxPayloadAreCountedAsTooLargeAndSkipped) {
  const auto limit = settings()->max_payload.bytes;
  EXPECT_EQ(limit, 64u * 1024);  // the documented default
  const std::string at_limit = R"({"pad": ")" + std::string(limit - 11, 'x') + R"("})";
  ASSERT_EQ(at_limit.size(), limit);
  const std::string over = R"({"pad": ")" + std::string(limit - 10, 'x') + R"("})";
  client->message("plant/s1/telemetry", over);
  client->message("plant/s1/telemetry", over);
  client->message("plant/s1/reported", over);
  client->message("plant/s1/telemetry", at_limit);  // taken: the limit itself is allowed
  client->message("plant/s1/telemetry", R"({"t": 1})");
  loop.poll();
  EXPECT_EQ(sink.of_kind(ReadingKind::telemetry).size(), 2u);
  for (const auto& r : sink.of_kind(ReadingKind::reported)) {  // presence only, never the patch
    EXPECT_EQ(r.values.at(0).first, "fieldlink.online");
  }
  const auto s = status();
  EXPECT_EQ(s["too_large"], 3);
  EXPECT_EQ(s["devices"]["s1"]["invalid"], 3);
  EXPECT_EQ(s["devices"]["s1"]["messages"], 2);
  EXPECT_EQ(s["unattributed_invalid"], 0);
  // Logged once per device per interval, not once per message.
  EXPECT_EQ(std::count(log.events.begin(), log.events.end(), "mqtt.invalid_payload"), 1);
}

TEST_F(MqttAdapterTest, MessagesWhileTheLoopIsBusyAreObservedInOneHandler) {
  // The network thread hands observations over in batches: one handler for everything that
  // arrived while the loop did not run, not one per message.
  client->message("plant/s1/telemetry", R"({"t": 1})");
  client->message("plant/s2/level", "7");
  client->message("plant/s1/telemetry", "{broken");
  client->message("plant/s1/reported", R"({"fw": 1})");
  client->message("plant/a+b/level", "1");  // unattributed
  client->message("plant/s2/level", "8");
  EXPECT_EQ(loop.poll(), 1u);
  const auto s = status();
  EXPECT_EQ(s["readings"], 4);
  EXPECT_EQ(s["devices"]["s1"]["messages"], 2);
  EXPECT_EQ(s["devices"]["s1"]["invalid"], 1);
  EXPECT_EQ(s["devices"]["s1"]["reported"], 1);
  EXPECT_EQ(s["devices"]["s2"]["messages"], 2);
  EXPECT_EQ(s["unattributed_invalid"], 1);
  // Presence once per device.
  std::vector<std::string> online;
  for (const auto& r : sink.of_kind(ReadingKind::reported)) {
    if (r.values.at(0).first == "fieldlink.online") online.push_back(r.source.str());
  }
  EXPECT_EQ(online, (std::vector<std::string>{"mqtt://plant/s1", "mqtt://plant/s2"}));
  // The next batch posts its own handler.
  client->message("plant/s2/level", "9");
  EXPECT_EQ(loop.poll(), 1u);
  EXPECT_EQ(status()["devices"]["s2"]["messages"], 3);
  EXPECT_EQ(loop.poll(), 0u);
}

TEST_F(MqttAdapterTest, OtherEventsKeepTheirPlaceAmongBatchedMessages) {
  client->message("plant/s1/telemetry", "{broken");
  client->events.disconnected("gone");
  client->events.connected(true, true, "");
  client->message("plant/s2/telemetry", "{broken");
  loop.poll();
  const auto tail = std::vector<std::string>(log.events.end() - 4, log.events.end());
  EXPECT_EQ(tail, (std::vector<std::string>{"mqtt.invalid_payload", "mqtt.disconnected",
                                            "mqtt.connected", "mqtt.invalid_payload"}));
  const auto s = status();
  EXPECT_EQ(s["connected"], true);
  EXPECT_EQ(s["connects"], 2);
  EXPECT_EQ(s["disconnects"], 1);
}

TEST(MqttSettingsMaxPayload, IsReadAsASizeAndRangeChecked) {
  EXPECT_EQ(settings("    max_payload: 100B\n")->max_payload.bytes, 100u);
  fieldlink::testing::TempDir dir;
  const auto r = config::load_config(dir.write("f.yaml",
                                               "adapters:\n"
                                               "  - name: plant\n"
                                               "    type: mqtt\n"
                                               "    topics: [{ filter: a/+, device: \"{1}\" }]\n"
                                               "    max_payload: 0B\n"),
                                     builtin_adapters());
  EXPECT_FALSE(r.config);
  EXPECT_NE(r.diagnostics.to_string().find("adapters[0].max_payload"), std::string::npos)
      << r.diagnostics.to_string();
}

TEST_F(MqttAdapterTest, BackpressureCutsTheConnectionBeforeThePubackLeaves) {
  sink.refuse = 1;
  client->message("plant/s1/telemetry", R"({"n": 1})");
  EXPECT_EQ(client->cuts, 1);
  // The rest of that connection is not taken either: the broker sends it all again.
  client->message("plant/s1/telemetry", R"({"n": 2})");
  EXPECT_TRUE(sink.of_kind(ReadingKind::telemetry).empty());
  client->events.connected(true, true, "");
  client->message("plant/s1/telemetry", R"({"n": 1})");
  EXPECT_EQ(sink.of_kind(ReadingKind::telemetry).size(), 1u);
  loop.poll();
  EXPECT_EQ(status()["backpressure"], 1);
}

TEST_F(MqttAdapterTest, RetainedMessagesAreSkippedOnResumedSessionsOnly) {
  client->message("plant/s1/telemetry", R"({"n": 1})", true);  // fresh session: taken
  client->events.connected(true, true, "");
  client->message("plant/s1/telemetry", R"({"n": 2})", true);  // resumed: seen before
  EXPECT_EQ(sink.of_kind(ReadingKind::telemetry).size(), 1u);
  EXPECT_EQ(status()["retained_skipped"], 1);
}

TEST_F(MqttAdapterTest, ReportedMessageBecomesReportedReading) {
  client->message("plant/s1/reported", R"({"fw": {"version": "1.2"}})");
  const auto r = sink.of_kind(ReadingKind::reported);
  ASSERT_GE(r.size(), 1u);
  EXPECT_EQ(r[0].values,
            (std::vector<std::pair<std::string, Value>>{{"fw.version", std::string("1.2")}}));
  client->message("plant/s1/reported", "nope");
  loop.poll();
  EXPECT_EQ(status()["devices"]["s1"]["reported"], 1);
  EXPECT_EQ(status()["devices"]["s1"]["invalid"], 1);
}

TEST_F(MqttAdapterTest, C2dIsPublishedAndAnsweredOnPuback) {
  std::optional<Outcome> outcome;
  adapter.execute(command(Command::Kind::c2d, "s1", {}, "hello"), [&](Outcome o) { outcome = o; });
  ASSERT_EQ(client->published.size(), 1u);
  EXPECT_EQ(client->published[0].topic, "plant/s1/c2d");
  EXPECT_EQ(client->published[0].payload, "hello");
  loop.poll();
  EXPECT_FALSE(outcome);
  client->events.published(client->published[0].mid);
  ASSERT_TRUE(run_until([&] { return outcome.has_value(); }));
  EXPECT_EQ(outcome->status, 200);
}

TEST_F(MqttAdapterTest, DesiredPatchIsPublished) {
  std::optional<Outcome> outcome;
  adapter.execute(command(Command::Kind::desired, "s1", {}, R"({"rate":5})"),
                  [&](Outcome o) { outcome = o; });
  ASSERT_EQ(client->published.size(), 1u);
  EXPECT_EQ(client->published[0].topic, "plant/s1/desired");
  client->events.published(client->published[0].mid);
  ASSERT_TRUE(run_until([&] { return outcome.has_value(); }));
  EXPECT_EQ(outcome->status, 200);
}

TEST_F(MqttAdapterTest, MethodRoundTripWithTheDevicesStatus) {
  std::optional<Outcome> outcome;
  adapter.execute(command(Command::Kind::method, "s1", "reset", R"({"hard":true})"),
                  [&](Outcome o) { outcome = o; });
  ASSERT_EQ(client->published.size(), 1u);
  EXPECT_EQ(client->published[0].topic, "plant/s1/methods/reset/17");
  EXPECT_EQ(client->published[0].payload, R"({"hard":true})");
  // An answer for another device or method is not this request's answer.
  client->message("plant/s2/methods/reset/17/res", "{}");
  client->message("plant/s1/methods/other/17/res", "{}");
  loop.poll();
  EXPECT_FALSE(outcome);
  client->message("plant/s1/methods/reset/17/res/409", R"({"busy":true})");
  ASSERT_TRUE(run_until([&] { return outcome.has_value(); }));
  EXPECT_EQ(outcome->status, 409);
  EXPECT_EQ(outcome->payload, R"({"busy":true})");
  EXPECT_TRUE(sink.readings.empty());  // answers are not readings
}

TEST_F(MqttAdapterTest, MethodAnswerWithoutStatusIs200) {
  std::optional<Outcome> outcome;
  adapter.execute(command(Command::Kind::method, "s1", "ping"), [&](Outcome o) { outcome = o; });
  EXPECT_EQ(client->published.at(0).payload, "null");
  client->message("plant/s1/methods/ping/17/res", "");
  ASSERT_TRUE(run_until([&] { return outcome.has_value(); }));
  EXPECT_EQ(outcome->status, 200);
  EXPECT_EQ(outcome->payload, "null");
}

TEST_F(MqttAdapterTest, SilentDeviceGets504AtTheDeadline) {
  std::optional<Outcome> outcome;
  const auto started = std::chrono::steady_clock::now();
  adapter.execute(command(Command::Kind::method, "s1", "reset"), [&](Outcome o) { outcome = o; });
  ASSERT_TRUE(run_until([&] { return outcome.has_value(); }));
  EXPECT_EQ(outcome->status, 504);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 190ms);
  // A late answer changes nothing.
  client->message("plant/s1/methods/reset/17/res", "{}");
  loop.poll();
  EXPECT_EQ(status()["methods_pending"], 0);
}

TEST_F(MqttAdapterTest, CommandsThatCannotBeCarriedOut) {
  std::vector<Outcome> outcomes;
  auto keep = [&](Outcome o) { outcomes.push_back(o); };
  auto other = command(Command::Kind::c2d, "s1");
  other.target = *SourceAddress::parse("mqtt://elsewhere/s1");
  adapter.execute(other, keep);
  adapter.execute(command(Command::Kind::method, "s1", "a/b"), keep);
  client->publish_status = {14, "broker gone"};
  adapter.execute(command(Command::Kind::c2d, "s1"), keep);
  ASSERT_TRUE(run_until([&] { return outcomes.size() == 3; }));
  EXPECT_EQ(outcomes[0].status, 404);
  EXPECT_EQ(outcomes[1].status, 400);
  EXPECT_EQ(outcomes[2].status, 502);
  EXPECT_EQ(outcomes[2].payload, R"({"error":"cannot publish to the local broker: broker gone"})");
}

TEST_F(MqttAdapterTest, PresenceOnlineThenOfflineThenBack) {
  client->message("plant/s1/telemetry", R"({"t": 1})");
  loop.poll();
  auto presence = [&] {
    std::vector<bool> out;
    for (const auto& r : sink.of_kind(ReadingKind::reported)) {
      EXPECT_EQ(r.values.at(0).first, "fieldlink.online");
      out.push_back(std::get<bool>(r.values.at(0).second));
    }
    return out;
  };
  EXPECT_EQ(presence(), std::vector<bool>{true});
  clock.advance(999ms);
  loop.run_for(300ms);  // a presence tick passes; the device is not due yet
  EXPECT_EQ(presence(), std::vector<bool>{true});
  clock.advance(1ms);
  ASSERT_TRUE(run_until([&] { return presence().size() == 2; }));
  EXPECT_EQ(presence(), (std::vector<bool>{true, false}));
  EXPECT_EQ(status()["devices"]["s1"]["online"], false);

  std::optional<Outcome> outcome;
  adapter.execute(command(Command::Kind::method, "s1", "reset"), [&](Outcome o) { outcome = o; });
  ASSERT_TRUE(run_until([&] { return outcome.has_value(); }));
  EXPECT_EQ(outcome->status, 404);

  client->message("plant/s1/telemetry", R"({"t": 2})");
  loop.poll();
  EXPECT_EQ(presence(), (std::vector<bool>{true, false, true}));
}

TEST_F(MqttAdapterTest, PresenceRefusedIsRetried) {
  sink.refuse = 1;  // the telemetry push itself is refused first
  client->message("plant/s1/telemetry", R"({"t": 1})");
  client->events.connected(true, true, "");
  client->message("plant/s1/telemetry", R"({"t": 1})");
  sink.refuse = 1;  // now the presence reading
  loop.poll();
  EXPECT_TRUE(sink.of_kind(ReadingKind::reported).empty());
  ASSERT_TRUE(run_until([&] { return sink.of_kind(ReadingKind::reported).size() == 1; }));
}

TEST_F(MqttAdapterTest, StopAnswersPendingAndStopsTheClient) {
  std::optional<Outcome> outcome;
  adapter.execute(command(Command::Kind::method, "s1", "reset"), [&](Outcome o) { outcome = o; });
  bool done = false;
  adapter.stop([&] { done = true; });
  ASSERT_TRUE(run_until([&] { return done; }));
  EXPECT_EQ(client->stops, 1);
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->status, 504);
}

}  // namespace
}  // namespace fieldlink::mqtt
