// Our MQTT client against a real mosquitto, plain and over TLS: what it publishes reaches a
// subscriber byte for byte.
#include <signal.h>

#include <gtest/gtest.h>

#include <map>

#include "mosquitto_broker.hpp"
#include "upstream_harness.hpp"

namespace fieldlink::testing {
namespace {

using namespace std::chrono_literals;

// One identity against the broker at `port` (the broker does not check the token).
hub::SessionSettings settings_for(unsigned short port, hub::mqtt::TlsContext* tls = nullptr) {
  hub::SessionSettings s;
  s.identity = Identity{DeviceId("dev-m"), ModuleId()};
  s.hub_host = "localhost";
  s.endpoint = {"localhost", port};
  s.sas_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  s.tls = tls;
  return s;
}

void expect_forwarded(MosquittoBroker& broker, hub::mqtt::TlsContext* tls, unsigned short port) {
  ChildProcess sub({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(broker.plain_port()),
                    "-t", "devices/#", "-v", "-C", "30", "-W", "30"});
  // mosquitto_sub prints nothing when subscribed; a retained marker on a topic of its own tells.
  UpstreamHarness h;
  auto s = settings_for(port, tls);
  s.inflight = 4;
  // Subscriber first, so nothing published is missed: wait for its connection in the broker.
  ChildProcess marker({"mosquitto_pub", "-h", "127.0.0.1", "-p",
                       std::to_string(broker.plain_port()), "-t", "devices/marker/messages/events/",
                       "-m", "{\"n\":-1}", "-q", "1", "-r"});
  ASSERT_TRUE(sub.wait_line(std::regex("^devices/marker/"), 10s));
  h.run([&] { h.upstream().add(s); });
  h.send(s.identity, 0, 29);
  ASSERT_TRUE(h.outbox().wait_acked(29, 20s)) << h.outbox().acked();
  for (int i = 0; i < 29; ++i) {
    const auto line = sub.wait_line(std::regex("^devices/dev-m/messages/events/(\\S*) (.*)$"), 10s);
    ASSERT_TRUE(line) << i;
    EXPECT_EQ((*line)[2], "{\"n\":" + std::to_string(i) + "}");
    EXPECT_NE((*line)[1].str().find("%24.mid=dev-m-" + std::to_string(i) + "&"), std::string::npos);
  }
}

TEST(UpstreamAgainstMosquitto, PlainTcp) {
  MosquittoBroker broker;
  expect_forwarded(broker, nullptr, broker.plain_port());
}

TEST(UpstreamAgainstMosquitto, TlsWithVerification) {
  MosquittoBroker broker;
  hub::mqtt::TlsContext tls(broker.ca_file());
  expect_forwarded(broker, &tls, broker.tls_port());
}

TEST(UpstreamAgainstMosquitto, RefusesACertificateFromAnotherCa) {
  MosquittoBroker broker;
  MosquittoBroker other;  // its CA did not sign `broker`'s certificate
  hub::mqtt::TlsContext tls(other.ca_file());
  UpstreamHarness h;
  auto s = settings_for(broker.tls_port(), &tls);
  h.run([&] { h.upstream().add(s); });
  std::string error;
  h.wait_until([&] { return !(error = h.upstream().find(s.identity)->last_error()).empty(); }, 10s);
  EXPECT_NE(error.find("certificate verify failed"), std::string::npos) << error;
  EXPECT_NE(error.find("is hub.ca_file the right CA?"), std::string::npos) << error;
}

// A hub that stops reading (here a frozen broker: its socket stays open while the buffers fill)
// is left as soon as more waits to be written than a full in-flight window could explain, long
// before keep-alive would notice; the session then reconnects.
TEST(UpstreamAgainstMosquitto, AHubThatStopsReadingIsLeftBeforeKeepAlive) {
  MosquittoBroker broker;
  UpstreamHarness h;
  auto s = settings_for(broker.plain_port());
  s.inflight = 1;  // bound: 256 KiB + 1 MiB unwritten
  s.open_timeout = 5s;
  h.run([&] { h.upstream().add(s); });
  auto state = [&] { return h.run([&] { return h.upstream().find(s.identity)->state(); }); };
  auto online = [&] { return h.upstream().find(s.identity)->state() == hub::SessionState::online; };
  ASSERT_TRUE(h.wait_until(online, 10s));

  ASSERT_EQ(::kill(broker.pid(), SIGSTOP), 0);
  // Reported patches of 64 KiB until the session gives up; the kernel's socket buffers take a few
  // MiB first. 1,000 of them (64 MiB) is far more than any buffer.
  const std::string patch = "{\"blob\":\"" + std::string(64 * 1024, 'x') + "\"}";
  std::string error;
  for (int i = 0; i < 1000 && error.find("stopped reading") == std::string::npos; ++i) {
    error = h.run([&] {
      auto* session = h.upstream().find(s.identity);
      session->report(patch, [](int, auto) {});
      return session->last_error();
    });
  }
  ASSERT_EQ(::kill(broker.pid(), SIGCONT), 0);
  EXPECT_NE(error.find("the hub stopped reading"), std::string::npos) << error;
  const auto counters = h.run([&] { return h.upstream().find(s.identity)->counters(); });
  EXPECT_GE(counters.write_backlogs, 1u);
  EXPECT_EQ(counters.stalls, 0u);  // PUBACKs did not stop: the writes did
  EXPECT_TRUE(h.wait_until(online, 20s)) << static_cast<int>(state());
}

// /status?sessions=summary asks the upstream for counts per state: the same counts the full list
// gives, without building a row per session.
TEST(UpstreamAgainstMosquitto, TheSummaryCountsWhatTheFullListShows) {
  MosquittoBroker broker;
  UpstreamHarness h;
  auto up = settings_for(broker.plain_port());
  auto down = settings_for(free_port());  // nobody listens there
  down.identity = Identity{DeviceId("dev-down"), ModuleId()};
  h.run([&] {
    h.upstream().add(up);
    h.upstream().add(down);
  });
  ASSERT_TRUE(h.wait_until(
      [&] { return h.upstream().find(up.identity)->state() == hub::SessionState::online; }, 10s));
  const auto [full, summary] = h.run([&] {
    nlohmann::json f, s;
    h.upstream().describe(f);
    h.upstream().describe_summary(s);
    return std::pair{f, s};
  });
  ASSERT_EQ(full["sessions"].size(), 2u);
  std::map<std::string, int> by_state;
  for (const auto& row : full["sessions"])
    ++by_state[row["state"].get<std::string>()];
  EXPECT_EQ(summary["sessions"]["count"], 2);
  using Counts = std::map<std::string, int>;
  EXPECT_EQ(summary["sessions"]["by_state"].get<Counts>(), by_state);
  EXPECT_EQ(summary["sessions"]["by_state"]["online"], 1);
}

// A session that goes offline gives its read-ahead back to the outbox (which may then evict those
// messages under a full disk and count them exactly) and reads nothing while offline.
TEST(UpstreamAgainstMosquitto, AnOfflineSessionHoldsNothingOfTheOutbox) {
  auto broker = std::make_unique<MosquittoBroker>();
  UpstreamHarness h;
  auto s = settings_for(broker->plain_port());
  h.run([&] { h.upstream().add(s); });
  h.send(s.identity, 0, 5);
  ASSERT_TRUE(h.outbox().wait_acked(5, 20s)) << h.outbox().acked();
  EXPECT_EQ(h.outbox().releases(), 0u);

  broker.reset();
  ASSERT_TRUE(h.outbox().wait_released(1, 10s));
  ASSERT_EQ(h.outbox().releases(), 1u);
  const auto peeks = h.outbox().peeks();
  h.send(s.identity, 5, 3);  // new messages while offline wake the feed: still no read-ahead
  EXPECT_EQ(h.outbox().peeks(), peeks);
  EXPECT_EQ(h.outbox().pending(s.identity), 3u);
}

// A stop under load waits for the PUBACKs of what is in flight (a message disconnected from before
// its PUBACK is sent again after a restart: a duplicate), and is bounded when they never come.
TEST(UpstreamAgainstMosquitto, AGracefulStopWaitsForInFlightPubacksWithinItsGrace) {
  MosquittoBroker broker;
  UpstreamHarness h;
  auto s = settings_for(broker.plain_port());
  s.inflight = 8;
  h.run([&] { h.upstream().add(s); });
  h.send(s.identity, 0, 2000);
  ASSERT_TRUE(h.outbox().wait_acked(50, 20s)) << h.outbox().acked();
  std::promise<void> stopped;
  h.run([&] { h.upstream().stop(30s, [&] { stopped.set_value(); }); });
  ASSERT_EQ(stopped.get_future().wait_for(20s), std::future_status::ready);
  const auto [sent, acked, state] = h.run([&] {
    auto* session = h.upstream().find(s.identity);
    return std::tuple(session->counters().sent, session->counters().acked, session->state());
  });
  EXPECT_EQ(state, hub::SessionState::stopped);
  EXPECT_LT(acked, 2000u);  // stopped mid-stream...
  EXPECT_EQ(sent, acked);   // ...with nothing left in flight

  // PUBACKs that never come: the stop ends at its grace.
  MosquittoBroker frozen;
  UpstreamHarness h2;
  s.endpoint = {"localhost", frozen.plain_port()};
  h2.run([&] { h2.upstream().add(s); });
  h2.send(s.identity, 0, 5);
  ASSERT_TRUE(h2.outbox().wait_acked(5, 20s));
  ASSERT_EQ(::kill(frozen.pid(), SIGSTOP), 0);
  h2.send(s.identity, 5, 5);
  ASSERT_TRUE(h2.wait_until([&] { return h2.upstream().find(s.identity)->in_flight() > 0; }, 2s));
  std::promise<void> bounded;
  const auto began = std::chrono::steady_clock::now();
  h2.run([&] { h2.upstream().stop(300ms, [&] { bounded.set_value(); }); });
  const bool ended = bounded.get_future().wait_for(10s) == std::future_status::ready;
  ASSERT_EQ(::kill(frozen.pid(), SIGCONT), 0);
  ASSERT_TRUE(ended);
  EXPECT_GE(std::chrono::steady_clock::now() - began, 300ms);
  EXPECT_EQ(h2.run([&] { return h2.upstream().find(s.identity)->state(); }),
            hub::SessionState::stopped);
}

// After an outage every session backs off on its own jittered step; once one gets through, the
// others reconnect at once (at the connect pace) instead of sleeping out steps of several seconds.
TEST(UpstreamAgainstMosquitto, OneSessionBackAfterAnOutageBringsTheOthersBackNow) {
  MosquittoBroker broker;
  UpstreamHarness h(hub::UpstreamSettings{100, 0});
  std::vector<Identity> ids;
  for (int i = 0; i < 5; ++i) {
    auto s = settings_for(broker.plain_port());
    s.identity = Identity{DeviceId("dev-" + std::to_string(i)), ModuleId()};
    ids.push_back(s.identity);
    h.run([&] { h.upstream().add(s); });
  }
  auto count = [&](auto pred) {
    int n = 0;
    for (const auto& id : ids)
      n += pred(*h.upstream().find(id)) ? 1 : 0;
    return n;
  };
  auto online = [](const hub::Session& s) { return s.state() == hub::SessionState::online; };
  ASSERT_TRUE(h.wait_until([&] { return count(online) == 5; }, 10s));

  broker.stop();
  // Backoff steps of 8 s and more (full jitter: each waits a random part of its step).
  auto deep = [](const hub::Session& s) { return s.backoff_step() >= 4; };
  ASSERT_TRUE(h.wait_until([&] { return count(deep) == 5; }, 30s));
  broker.start();

  // The first one back comes when its own step ends; the rest follow within a second.
  ASSERT_TRUE(h.wait_until([&] { return count(online) >= 1; }, 10s));
  const auto first = std::chrono::steady_clock::now();
  EXPECT_TRUE(h.wait_until([&] { return count(online) == 5; }, 3s));
  EXPECT_LT(std::chrono::steady_clock::now() - first, 2s);
  EXPECT_GE(h.run([&] { return h.upstream().retries_hastened(); }), 1u);
}

}  // namespace
}  // namespace fieldlink::testing
