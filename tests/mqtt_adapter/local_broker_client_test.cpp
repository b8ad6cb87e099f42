// LocalBrokerClient against a real mosquitto: whole messages in order across read passes and
// buffer growth, acknowledgements that are written (nothing comes again after a clean stop) or
// withheld (from the message a cut inside an event refused, or until the mark of its readings is
// durable), a publish made while the broker is down, a unix socket, refused connections, and
// keepalive. Every wait is for an event with a deadline.
#include <gtest/gtest.h>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "adapters/mqtt/local_broker_client.hpp"
#include "mosquitto_broker.hpp"
#include "test_mqtt_client.hpp"

namespace fieldlink::testing {
namespace {

using namespace std::chrono_literals;
using mqtt::BrokerClient;
using mqtt::BrokerEndpoint;
using mqtt::InboundMessage;
using mqtt::LocalBrokerClient;

// The events of one client, recorded on its network thread and awaited from the test's.
class Recorder {
 public:
  using Message = std::pair<std::string, std::string>;  // topic, payload

  // Subscribes to `filters` on every connect, as MqttAdapter does.
  BrokerClient::Events events(BrokerClient& client, std::vector<std::string> filters) {
    BrokerClient::Events e;
    e.connected = [this, &client, filters](bool accepted, bool session_present,
                                           const std::string&) {
      if (accepted) client.subscribe(filters);
      std::lock_guard lock(mutex_);
      if (accepted) {
        ++connects_;
        session_present_ = session_present;
      }
      changed_.notify_all();
    };
    e.disconnected = [this](const std::string& why) {
      std::lock_guard lock(mutex_);
      disconnects_.push_back(why);
      changed_.notify_all();
    };
    e.message = [this](const InboundMessage& m) {
      if (on_message) on_message(m);
      std::lock_guard lock(mutex_);
      messages_.emplace_back(std::string(m.topic), std::string(m.payload));
      changed_.notify_all();
    };
    e.published = [this](int id) {
      std::lock_guard lock(mutex_);
      published_.push_back(id);
      changed_.notify_all();
    };
    return e;
  }

  template <class P>
  bool wait(P done, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return done(*this); });
  }
  template <class F>
  auto read(F f) {
    std::lock_guard lock(mutex_);
    return f(*this);
  }

  // Runs on the network thread before the message is recorded.
  std::function<void(const InboundMessage&)> on_message;

  int connects_ = 0;
  bool session_present_ = false;
  std::vector<std::string> disconnects_;
  std::vector<Message> messages_;
  std::vector<int> published_;

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
};

BrokerEndpoint endpoint_for(const MosquittoBroker& broker, const std::string& client_id) {
  BrokerEndpoint e;
  e.host = "127.0.0.1";
  e.port = broker.plain_port();
  e.client_id = client_id;
  e.reconnect_min = 1s;
  e.reconnect_max = 2s;
  return e;
}

// Publishes probes until the client has one: its subscription is then in place at the broker.
bool subscribed(TestMqttClient& publisher, Recorder& recorder, const std::string& topic) {
  for (int i = 0; i < 100; ++i) {
    publisher.publish(topic, "probe");
    if (recorder.wait([&](Recorder& r) { return !r.messages_.empty(); }, 100ms)) return true;
  }
  return false;
}

std::vector<int> seqs_of(const std::vector<Recorder::Message>& messages) {
  std::vector<int> out;
  for (const auto& [topic, payload] : messages) {
    const bool number = !payload.empty() && payload.size() < 10 &&
                        std::all_of(payload.begin(), payload.end(), ::isdigit);
    if (number) out.push_back(std::stoi(payload));
  }
  return out;
}

std::vector<int> first_arrivals(const std::vector<int>& seqs) {
  std::vector<int> out;
  for (int s : seqs)
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  return out;
}

std::vector<int> range(int n) {
  std::vector<int> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    v[static_cast<size_t>(i)] = i;
  return v;
}

TEST(LocalBrokerClient, EveryMessageArrivesWholeAndInOrderAndIsAcknowledged) {
  MosquittoBroker broker;
  TestMqttClient publisher("publisher", broker.plain_port());
  constexpr int kCount = 3000;
  const std::string big(300 * 1024, 'b');  // several reads, and more than the 64 KiB buffer
  {
    Recorder recorder;
    LocalBrokerClient client(endpoint_for(broker, "gw"));
    ASSERT_TRUE(client.start(recorder.events(client, {"t/#"})).ok());
    ASSERT_TRUE(subscribed(publisher, recorder, "t/probe"));
    for (int i = 0; i < kCount; ++i) {
      publisher.publish("t/d" + std::to_string(i % 10), std::to_string(i));
      if (i == kCount / 2) publisher.publish("t/big", big);
    }
    ASSERT_TRUE(publisher.wait_acked(30s));
    ASSERT_TRUE(recorder.wait([&](Recorder& r) {
      return static_cast<int>(seqs_of(r.messages_).size()) >= kCount;
    })) << recorder.read([](Recorder& r) { return r.messages_.size(); });
    recorder.read([&](Recorder& r) {
      EXPECT_EQ(seqs_of(r.messages_), range(kCount));
      const auto n = std::count_if(r.messages_.begin(), r.messages_.end(),
                                   [&](const auto& m) { return m.first == "t/big"; });
      EXPECT_EQ(n, 1);
      EXPECT_TRUE(std::any_of(r.messages_.begin(), r.messages_.end(),
                              [&](const auto& m) { return m.second == big; }));
      EXPECT_EQ(r.connects_, 1);
      EXPECT_TRUE(r.disconnects_.empty());
      return 0;
    });
    client.stop();  // writes what is pending, then DISCONNECT
  }
  // The same session again: had a PUBACK been left unwritten, its message would come first.
  Recorder again;
  LocalBrokerClient client(endpoint_for(broker, "gw"));
  ASSERT_TRUE(client.start(again.events(client, {"t/#"})).ok());
  ASSERT_TRUE(again.wait([](Recorder& r) { return r.connects_ == 1; }));
  EXPECT_TRUE(again.read([](Recorder& r) { return r.session_present_; }));
  publisher.publish("t/end", "end");
  ASSERT_TRUE(again.wait([](Recorder& r) { return !r.messages_.empty(); }));
  EXPECT_EQ(again.read([](Recorder& r) { return r.messages_.front().second; }), "end");
}

TEST(LocalBrokerClient, ACutInsideAnEventLeavesThatMessageUnacknowledgedAndTheBrokerSendsItAgain) {
  MosquittoBroker broker;
  TestMqttClient publisher("publisher", broker.plain_port());
  Recorder recorder;
  LocalBrokerClient client(endpoint_for(broker, "gw"));
  // The network thread is held inside the event of message 0 until the broker has all of them:
  // it then has a window of 20 in flight to us waiting in the socket, so 1..19 come in one read
  // pass, and the cut at 10 falls in the middle of one.
  std::promise<void> all_at_broker;
  auto at_broker = all_at_broker.get_future().share();
  bool cut_once = false;  // network thread only
  recorder.on_message = [&, at_broker](const InboundMessage& m) {
    if (m.payload == "0") at_broker.wait_for(20s);
    if (m.payload == "10" && !cut_once) {
      cut_once = true;
      client.cut();
    }
  };
  ASSERT_TRUE(client.start(recorder.events(client, {"t/#"})).ok());
  ASSERT_TRUE(subscribed(publisher, recorder, "t/probe"));
  constexpr int kCount = 200;
  for (int i = 0; i < kCount; ++i)
    publisher.publish("t/d", std::to_string(i));
  ASSERT_TRUE(publisher.wait_acked(20s));
  all_at_broker.set_value();
  ASSERT_TRUE(recorder.wait([&](Recorder& r) {
    return static_cast<int>(first_arrivals(seqs_of(r.messages_)).size()) >= kCount;
  }));
  recorder.read([&](Recorder& r) {
    const auto seqs = seqs_of(r.messages_);
    EXPECT_EQ(first_arrivals(seqs), range(kCount));
    // The broker delivers 10 again; what was handed over before it in the same read pass was
    // acknowledged before the disconnect, so it does not come twice.
    for (int s = 0; s < kCount; ++s)
      EXPECT_EQ(std::count(seqs.begin(), seqs.end(), s), s == 10 ? 2 : 1) << s;
    EXPECT_EQ(r.connects_, 2);
    EXPECT_NE(r.disconnects_.at(0).find("cut"), std::string::npos) << r.disconnects_.at(0);
    return 0;
  });
}

TEST(LocalBrokerClient, APublishMadeWhileTheBrokerIsDownGoesOutAfterTheReconnect) {
  MosquittoBroker broker(MosquittoOptions{.persistence = true});
  // The receiver is a persistent session too, so the broker keeps its subscription over the
  // restart and the message for it, whenever each side comes back.
  Recorder receiver;
  LocalBrokerClient receiving(endpoint_for(broker, "receiver"));
  ASSERT_TRUE(receiving.start(receiver.events(receiving, {"dev/#"})).ok());
  {
    TestMqttClient publisher("publisher", broker.plain_port());
    ASSERT_TRUE(subscribed(publisher, receiver, "dev/probe"));
  }
  Recorder sender;
  LocalBrokerClient sending(endpoint_for(broker, "sender"));
  ASSERT_TRUE(sending.start(sender.events(sending, {"nothing/here"})).ok());
  ASSERT_TRUE(sender.wait([](Recorder& r) { return r.connects_ == 1; }));

  broker.stop();
  ASSERT_TRUE(sender.wait([](Recorder& r) { return !r.disconnects_.empty(); }));
  int id = 0;
  ASSERT_TRUE(sending.publish("dev/d1/c2d", "while down", id).ok());
  EXPECT_GT(id, 0);
  broker.start();

  ASSERT_TRUE(sender.wait([&](Recorder& r) { return !r.published_.empty(); }));
  EXPECT_EQ(sender.read([](Recorder& r) { return r.published_; }), std::vector<int>{id});
  ASSERT_TRUE(receiver.wait([](Recorder& r) {
    return std::any_of(r.messages_.begin(), r.messages_.end(),
                       [](const auto& m) { return m.second == "while down"; });
  }));
}

TEST(LocalBrokerClient, APublishQueuedWhenTheConnectionIsCutGoesOutOnceAfterTheReconnect) {
  MosquittoBroker broker;
  TestMqttClient watcher("watcher", broker.plain_port());
  watcher.subscribe("echo/#");
  TestMqttClient publisher("publisher", broker.plain_port());
  Recorder recorder;
  LocalBrokerClient client(endpoint_for(broker, "gw"));
  bool done = false;  // network thread only
  int id = 0;
  // From inside the event, so nothing of the client's loop runs between the publish and the cut.
  recorder.on_message = [&](const InboundMessage& m) {
    if (m.payload != "go" || std::exchange(done, true)) return;
    client.publish("echo/x", "once", id);
    client.cut();
  };
  ASSERT_TRUE(client.start(recorder.events(client, {"t/#"})).ok());
  ASSERT_TRUE(subscribed(publisher, recorder, "t/probe"));
  publisher.publish("t/a", "go");
  ASSERT_TRUE(recorder.wait([](Recorder& r) { return !r.published_.empty(); }));
  EXPECT_EQ(recorder.read([](Recorder& r) { return r.published_; }), std::vector<int>{id});
  publisher.publish("echo/x", "end");  // after it, nothing more of ours can be on its way
  const auto seen = watcher.wait_received(2, 10s);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].second, "once");
  EXPECT_EQ(seen[1].second, "end");
}

// PUBACK after durability (Events::hold/durable, as MqttAdapter sets them): a message's PUBACK
// waits until `durable` reaches its mark. The broker sends 20 unacknowledged messages
// (mosquitto's max_inflight_messages) and more only once PUBACKs come; and a client that takes
// the session over gets again exactly the messages whose PUBACKs were still held.
TEST(LocalBrokerClient, AHeldAcknowledgementLeavesOnlyOnceItsMarkIsDurable) {
  MosquittoBroker broker;
  TestMqttClient publisher("publisher", broker.plain_port());
  Recorder recorder;
  auto endpoint = endpoint_for(broker, "gw");
  endpoint.reconnect_min = endpoint.reconnect_max = 60s;  // lets the second client keep it
  LocalBrokerClient client(endpoint);
  std::atomic<std::uint64_t> durable{0};
  std::atomic<int> hurried{0};
  std::uint64_t marks = 0;  // network thread only
  bool numbered = false;    // network thread only: the message just handled
  recorder.on_message = [&](const InboundMessage& m) { numbered = m.payload != "probe"; };
  auto events = recorder.events(client, {"t/#"});
  // Probes are released at once; numbered message k gets mark k + 1.
  events.hold = [&] { return numbered ? ++marks : 0; };
  events.durable = [&] { return durable.load(); };
  events.hurry = [&] { ++hurried; };
  ASSERT_TRUE(client.start(std::move(events)).ok());
  ASSERT_TRUE(subscribed(publisher, recorder, "t/probe"));
  const auto numbered_count = [](Recorder& r) { return seqs_of(r.messages_).size(); };

  constexpr int kCount = 30;
  for (int i = 0; i < kCount; ++i)
    publisher.publish("t/d", std::to_string(i));
  ASSERT_TRUE(publisher.wait_acked(20s));
  ASSERT_TRUE(recorder.wait([&](Recorder& r) { return numbered_count(r) >= 20; }));
  EXPECT_GT(hurried.load(), 0);  // 10 or more held
  // Messages 0..4 durable: their five PUBACKs leave, and the broker sends five more.
  durable = 5;
  client.acks_released();
  ASSERT_TRUE(recorder.wait([&](Recorder& r) { return numbered_count(r) >= 25; }))
      << recorder.read(numbered_count);

  // Another connection takes the session over; ours is dropped and forgets what it held.
  Recorder taker;
  LocalBrokerClient taking(endpoint_for(broker, "gw"));
  ASSERT_TRUE(taking.start(taker.events(taking, {"t/#"})).ok());
  ASSERT_TRUE(taker.wait([&](Recorder& r) { return numbered_count(r) >= kCount - 5; }))
      << taker.read(numbered_count);
  EXPECT_EQ(first_arrivals(taker.read([](Recorder& r) { return seqs_of(r.messages_); })), [] {
    std::vector<int> v;
    for (int i = 5; i < kCount; ++i)
      v.push_back(i);
    return v;
  }());
  // (mosquitto 2.0.11 sent all the rest at that point, more than five PUBACKs make room for;
  // the takeover above shows that no other PUBACK of ours reached it.)
  const auto got = first_arrivals(recorder.read([](Recorder& r) { return seqs_of(r.messages_); }));
  EXPECT_EQ(got, range(static_cast<int>(got.size())));
  taking.stop();
  client.stop();
}

// A clean stop writes the PUBACKs it still holds: their readings are in the sink, which the
// daemon drains into the journal on the way out, so the broker must not send them again.
TEST(LocalBrokerClient, AStopWritesTheAcknowledgementsItStillHolds) {
  MosquittoBroker broker;
  TestMqttClient publisher("publisher", broker.plain_port());
  {
    Recorder recorder;
    LocalBrokerClient client(endpoint_for(broker, "gw"));
    auto events = recorder.events(client, {"t/#"});
    std::uint64_t marks = 0;  // network thread only
    events.hold = [&] { return ++marks; };
    events.durable = [] { return std::uint64_t{0}; };  // nothing ever durable
    ASSERT_TRUE(client.start(std::move(events)).ok());
    ASSERT_TRUE(subscribed(publisher, recorder, "t/probe"));
    for (int i = 0; i < 5; ++i)
      publisher.publish("t/d", std::to_string(i));
    ASSERT_TRUE(recorder.wait([](Recorder& r) { return seqs_of(r.messages_).size() >= 5; }));
    client.stop();
  }
  Recorder again;
  LocalBrokerClient client(endpoint_for(broker, "gw"));
  ASSERT_TRUE(client.start(again.events(client, {"t/#"})).ok());
  ASSERT_TRUE(again.wait([](Recorder& r) { return r.connects_ == 1; }));
  publisher.publish("t/end", "end");
  ASSERT_TRUE(again.wait([](Recorder& r) { return !r.messages_.empty(); }));
  // Had a held PUBACK been dropped at the stop, its message would come first.
  EXPECT_EQ(again.read([](Recorder& r) { return r.messages_.front().second; }), "end");
}

TEST(LocalBrokerClient, ConnectsOverAUnixSocket) {
  MosquittoBroker broker;
  auto endpoint = endpoint_for(broker, "gw");
  endpoint.port = 0;
  endpoint.unix_socket = broker.unix_socket();
  Recorder recorder;
  LocalBrokerClient client(endpoint);
  ASSERT_TRUE(client.start(recorder.events(client, {"t/#"})).ok());
  TestMqttClient publisher("publisher", broker.plain_port());
  ASSERT_TRUE(subscribed(publisher, recorder, "t/probe"));
  publisher.publish("t/d", "7");
  ASSERT_TRUE(recorder.wait([](Recorder& r) { return seqs_of(r.messages_) == std::vector{7}; }));
}

TEST(LocalBrokerClient, ARefusedConnectionIsReportedAndTriedAgain) {
  BrokerEndpoint endpoint;
  endpoint.host = "127.0.0.1";
  endpoint.port = free_port();  // nobody listens
  endpoint.client_id = "gw";
  endpoint.reconnect_min = 1s;
  endpoint.reconnect_max = 1s;
  Recorder recorder;
  LocalBrokerClient client(endpoint);
  ASSERT_TRUE(client.start(recorder.events(client, {"t/#"})).ok());
  ASSERT_TRUE(recorder.wait([](Recorder& r) { return r.disconnects_.size() >= 2; }));
  EXPECT_EQ(recorder.read([](Recorder& r) { return r.disconnects_.at(0); }),
            "cannot connect: Connection refused");
  EXPECT_EQ(recorder.read([](Recorder& r) { return r.connects_; }), 0);
}

TEST(LocalBrokerClient, AnIdleConnectionIsKeptUpByPings) {
  MosquittoBroker broker;
  auto endpoint = endpoint_for(broker, "gw");
  endpoint.keepalive = 1s;
  Recorder recorder;
  LocalBrokerClient client(endpoint);
  ASSERT_TRUE(client.start(recorder.events(client, {"t/#"})).ok());
  TestMqttClient publisher("publisher", broker.plain_port());
  ASSERT_TRUE(subscribed(publisher, recorder, "t/probe"));
  // mosquitto 2.0 drops a client silent for 1.5 keepalives, checking every few seconds: without
  // pings it is gone within 5 s (measured). Time is what is under test, not a synchronisation.
  EXPECT_FALSE(recorder.wait([](Recorder& r) { return !r.disconnects_.empty(); }, 8s));
  publisher.publish("t/d", "1");
  ASSERT_TRUE(recorder.wait([](Recorder& r) { return seqs_of(r.messages_) == std::vector{1}; }));
  EXPECT_EQ(recorder.read([](Recorder& r) { return r.connects_; }), 1);
}

}  // namespace
}  // namespace fieldlink::testing
