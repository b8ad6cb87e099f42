// Upstream sessions against the project's IoT Hub emulator over TLS: telemetry with properties,
// downlink to the right identity only, twin sync, token renewal, faults, wrong credentials.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdlib>
#include <fstream>

#include "hub_emulator.hpp"
#include "upstream_harness.hpp"

namespace fieldlink::testing {
namespace {

using namespace std::chrono_literals;

Identity device(const std::string& id) {
  return Identity{DeviceId(id), ModuleId()};
}

class UpstreamAgainstEmulator : public ::testing::Test {
 protected:
  UpstreamAgainstEmulator() : tls_(hub_.ca_file()) {}

  hub::SessionSettings settings(const std::string& id, const std::string& key) {
    hub::SessionSettings s;
    s.identity = device(id);
    s.hub_host = hub_.host();
    s.endpoint = {hub_.host(), hub_.mqtt_port()};
    s.sas_key = key;
    s.tls = &tls_;
    s.keepalive = 30s;
    s.stall_timeout = 5s;
    s.inflight = 8;
    return s;
  }

  // The bodies' sequence numbers the emulator holds for a device, in arrival order.
  std::vector<int> received(const std::string& id) {
    std::vector<int> out;
    for (const auto& e : hub_.events(id)) {
      out.push_back(nlohmann::json::parse(e["body"].get<std::string>())["n"].get<int>());
    }
    return out;
  }

  // Checks every one of 0..n-1 arrived, first arrivals in order; returns the duplicates.
  std::size_t expect_complete_in_order(const std::string& id, int n) {
    const auto got = received(id);
    std::vector<int> firsts;
    std::set<int> seen;
    for (int v : got) {
      if (seen.insert(v).second) firsts.push_back(v);
    }
    std::vector<int> want(static_cast<std::size_t>(n));
    std::iota(want.begin(), want.end(), 0);
    EXPECT_EQ(firsts, want) << id;
    return got.size() - firsts.size();
  }

  HubEmulator hub_;
  hub::mqtt::TlsContext tls_;
};

TEST_F(UpstreamAgainstEmulator, ThreeIdentitiesSendTelemetryWithProperties) {
  UpstreamHarness h;
  for (const auto* id : {"dev-a", "dev-b", "dev-c"}) {
    const auto key = hub_.add_device(id);
    h.run([&] { h.upstream().add(settings(id, key)); });
    h.send(device(id), 0, 20);
  }
  ASSERT_TRUE(h.outbox().wait_acked(60, 30s)) << h.outbox().acked() << " of 60 acked";
  for (const auto* id : {"dev-a", "dev-b", "dev-c"}) {
    EXPECT_EQ(expect_complete_in_order(id, 20), 0u);
    const auto first = hub_.events(id).at(0);
    EXPECT_EQ(first["systemProperties"]["message-id"], std::string(id) + "-0");
    EXPECT_EQ(first["systemProperties"]["content-type"], "application/json");
    EXPECT_EQ(first["systemProperties"]["content-encoding"], "utf-8");
    EXPECT_EQ(first["systemProperties"]["iothub-connection-device-id"], id);
    EXPECT_EQ(first["properties"]["seq"], "0");
  }
}

TEST_F(UpstreamAgainstEmulator, DownlinkReachesTheRightIdentityOnly) {
  UpstreamHarness h;
  const auto key_a = hub_.add_device("dev-a");
  const auto key_b = hub_.add_device("dev-b");
  h.downlink().on_method = [&h](const hub::Downlink& d) {
    h.upstream().find(d.identity)->respond_method(d.id, 201, "{\"answered\":\"" + d.name + "\"}");
  };
  h.run([&] {
    h.upstream().add(settings("dev-a", key_a));
    h.upstream().add(settings("dev-b", key_b));
  });
  // Each session delivers its (empty) desired section after its first twin GET: online.
  auto got = h.downlink().wait_count(2, 20s);
  ASSERT_EQ(got.size(), 2u);
  for (const auto& d : got)
    EXPECT_EQ(d.kind, hub::Downlink::Kind::desired);

  auto c2d =
      hub_.call("POST", "/devices/dev-b/messages/deviceBound",
                {{"body", "open valve"}, {"messageId", "c2d-1"}, {"properties", {{"valve", "3"}}}});
  ASSERT_EQ(c2d.status, 200) << c2d.body;
  got = h.downlink().wait_count(3, 20s);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].kind, hub::Downlink::Kind::c2d);
  EXPECT_EQ(got[2].identity.client_id(), "dev-b");
  EXPECT_EQ(got[2].payload, "open valve");
  EXPECT_EQ(got[2].id, "c2d-1");
  EXPECT_EQ(got[2].properties, (Properties{{"valve", "3"}}));

  const auto method = hub_.call(
      "POST", "/twins/dev-a/methods",
      {{"methodName", "reset"}, {"payload", {{"hard", true}}}, {"responseTimeoutInSeconds", 10}});
  ASSERT_EQ(method.status, 200) << method.body;
  const auto answer = nlohmann::json::parse(method.body);
  EXPECT_EQ(answer["status"], 201);
  EXPECT_EQ(answer["payload"]["answered"], "reset");
  got = h.downlink().wait_count(4, 5s);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[3].identity.client_id(), "dev-a");
  EXPECT_EQ(nlohmann::json::parse(got[3].payload)["hard"], true);

  ASSERT_EQ(
      hub_.call("PATCH", "/twins/dev-b", {{"properties", {{"desired", {{"interval", 7}}}}}}).status,
      200);
  got = h.downlink().wait_count(5, 10s);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[4].kind, hub::Downlink::Kind::desired);
  EXPECT_EQ(got[4].identity.client_id(), "dev-b");
  EXPECT_EQ(nlohmann::json::parse(got[4].payload)["interval"], 7);
  EXPECT_FALSE(got[4].full_desired);

  std::promise<std::pair<int, std::optional<std::int64_t>>> reported;
  h.run([&] {
    h.upstream().find(device("dev-a"))->report("{\"firmware\":\"1.2.3\"}", [&](int s, auto v) {
      reported.set_value({s, v});
    });
  });
  auto future = reported.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  const auto [status, version] = future.get();
  EXPECT_EQ(status, 204);
  ASSERT_TRUE(version);
  const auto twin = nlohmann::json::parse(hub_.call("GET", "/twins/dev-a").body);
  EXPECT_EQ(twin["properties"]["reported"]["firmware"], "1.2.3");
  EXPECT_EQ(twin["properties"]["reported"]["$version"], *version);
}

TEST_F(UpstreamAgainstEmulator, DesiredChangesMissedWhileOfflineArriveOnReconnect) {
  UpstreamHarness h;
  const auto key = hub_.add_device("dev-a");
  h.run([&] { h.upstream().add(settings("dev-a", key)); });
  ASSERT_EQ(h.downlink().wait_count(1, 20s).size(), 1u);
  h.run([&] { h.upstream().remove(device("dev-a")); });
  ASSERT_EQ(
      hub_.call("PATCH", "/twins/dev-a", {{"properties", {{"desired", {{"mode", "eco"}}}}}}).status,
      200);
  h.run([&] { h.upstream().add(settings("dev-a", key)); });
  const auto got = h.downlink().wait_count(2, 20s);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[1].full_desired);
  EXPECT_EQ(nlohmann::json::parse(got[1].payload)["mode"], "eco");
}

// A C2D message the gateway cannot keep (its journal refused it) is never acknowledged: the
// session reconnects, the hub delivers it again, and once it is kept the hub's queue is empty.
TEST_F(UpstreamAgainstEmulator, AbandonedC2dIsDeliveredAgainAfterAReconnect) {
  UpstreamHarness h;
  h.downlink().abandon_c2d = 1;  // before the loop can deliver anything
  const auto key = hub_.add_device("dev-a");
  h.run([&] { h.upstream().add(settings("dev-a", key)); });
  ASSERT_EQ(h.downlink().wait_count(1, 20s).size(), 1u);  // online: the desired sync
  ASSERT_EQ(hub_.call("POST", "/devices/dev-a/messages/deviceBound",
                      {{"body", "close valve"}, {"messageId", "c2d-k"}})
                .status,
            200);
  // Twice the C2D: abandoned, then kept after the reconnect.
  const auto got = h.downlink().wait_count(3, 30s);
  std::vector<std::string> c2d_ids;
  for (const auto& d : got) {
    if (d.kind == hub::Downlink::Kind::c2d) c2d_ids.push_back(d.id);
  }
  EXPECT_EQ(c2d_ids, (std::vector<std::string>{"c2d-k", "c2d-k"}));
  const auto counters = h.run([&] { return h.upstream().find(device("dev-a"))->counters(); });
  EXPECT_EQ(counters.c2d_abandoned, 1u);
  EXPECT_GE(counters.reconnects, 1u);
  // Taken the second time: the hub's queue for the device drains.
  std::string pending;
  for (int i = 0; i < 100; ++i) {
    pending = hub_.call("GET", "/devices/dev-a/messages/deviceBound").body;
    if (nlohmann::json::parse(pending).empty()) break;
    std::this_thread::sleep_for(100ms);  // polling the emulator's HTTP view, bounded
  }
  EXPECT_TRUE(nlohmann::json::parse(pending).empty()) << pending;
}

// An X.509 identity: the client certificate (self-signed, its thumbprint registered) is the
// credential, no SAS password is sent, and its telemetry arrives under that identity.
TEST_F(UpstreamAgainstEmulator, X509IdentitySendsWithItsCertificate) {
  const std::string dir = ::testing::TempDir() + "x509-" + std::to_string(::getpid());
  const auto make = "mkdir -p " + dir + " && cd " + dir +
                    " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
                    " -sha256 -days 2 -subj /CN=dev-x -keyout dev-x.key -out dev-x.pem 2>/dev/null"
                    " && chmod 600 dev-x.key"
                    " && openssl x509 -in dev-x.pem -noout -fingerprint -sha256 > fp";
  ASSERT_EQ(std::system(make.c_str()), 0);
  std::ifstream fp_file(dir + "/fp");
  std::string fp;
  std::getline(fp_file, fp);
  fp = fp.substr(fp.find('=') + 1);
  const auto put =
      hub_.call("PUT", "/devices/dev-x",
                {{"authentication",
                  {{"type", "selfSigned"}, {"x509Thumbprint", {{"primaryThumbprint", fp}}}}}});
  ASSERT_EQ(put.status, 200) << put.body;

  hub::mqtt::TlsContext tls(hub_.ca_file(), dir + "/dev-x.pem", dir + "/dev-x.key");
  auto s = settings("dev-x", "");
  s.tls = &tls;
  UpstreamHarness h;
  h.run([&] { h.upstream().add(s); });
  h.send(device("dev-x"), 0, 5);
  ASSERT_TRUE(h.outbox().wait_acked(5, 20s)) << h.outbox().acked();
  EXPECT_EQ(expect_complete_in_order("dev-x", 5), 0u);
  const auto events = hub_.events("dev-x");
  ASSERT_FALSE(events.empty());
  const auto method = nlohmann::json::parse(
      events[0]["systemProperties"]["iothub-connection-auth-method"].get<std::string>());
  EXPECT_EQ(method["type"], "selfSigned");
}

// hub.gateway_host: the connection goes to another host (an edgeHub in the field; here the
// emulator by its IP address, checked against the certificate's IP entry, without SNI) while the
// SAS token and user name still name the hub.
TEST_F(UpstreamAgainstEmulator, GatewayHostIsWhereWeConnectWhileTokensNameTheHub) {
  const auto key = hub_.add_device("dev-g");
  auto s = settings("dev-g", key);
  s.endpoint = {"127.0.0.1", hub_.mqtt_port()};
  ASSERT_EQ(s.hub_host, "localhost");
  UpstreamHarness h;
  h.run([&] { h.upstream().add(s); });
  h.send(device("dev-g"), 0, 3);
  ASSERT_TRUE(h.outbox().wait_acked(3, 20s)) << h.outbox().acked();
  EXPECT_EQ(expect_complete_in_order("dev-g", 3), 0u);
}

// A hub that throttles by closing each connection a second into sending telemetry: every close
// counts as a failure, so the reconnect delay keeps growing instead of restarting at its first
// step.
TEST_F(UpstreamAgainstEmulator, ThrottlingClosesKeepBackingOff) {
  const auto key = hub_.add_device("dev-t");
  ASSERT_EQ(hub_.call("POST", "/faults/throttle",
                      {{"deviceId", "dev-t"}, {"delayMs", 50}, {"closeAfterSeconds", 1}})
                .status,
            204);
  UpstreamHarness h;
  h.run([&] { h.upstream().add(settings("dev-t", key)); });
  h.send(device("dev-t"), 0, 500);  // the emulator throttles telemetry: keep some to send
  std::uint32_t step = 0;
  std::uint64_t reconnects = 0;
  h.wait_until(
      [&] {
        const auto* s = h.upstream().find(device("dev-t"));
        std::tie(step, reconnects) = std::make_pair(s->backoff_step(), s->counters().reconnects);
        return step >= 3;
      },
      30s);
  EXPECT_GE(step, 3u) << "after " << reconnects << " throttled closes";
  EXPECT_GE(reconnects, 3u);
}

TEST_F(UpstreamAgainstEmulator, TokenRenewalLosesNothing) {
  UpstreamHarness h;
  const auto key = hub_.add_device("dev-a");
  auto s = settings("dev-a", key);
  s.token_ttl = 5s;
  h.run([&] { h.upstream().add(s); });
  // 500 messages over 20 s: the token is renewed three or four times meanwhile.
  for (int batch = 0; batch < 40; ++batch) {
    h.send(device("dev-a"), batch * 25 / 2, 25 / 2 + (batch % 2));
    std::this_thread::sleep_for(500ms);  // pacing the load, not waiting for anything
  }
  ASSERT_TRUE(h.outbox().wait_acked(500, 30s)) << h.outbox().acked();
  const auto duplicates = expect_complete_in_order("dev-a", 500);
  const auto renewals =
      h.run([&] { return h.upstream().find(device("dev-a"))->counters().token_renewals; });
  std::cout << "token renewals: " << renewals << ", duplicates: " << duplicates << "\n";
  EXPECT_GE(renewals, 3u);
  EXPECT_EQ(duplicates, 0u);  // renewal drains in-flight messages before it reconnects
}

TEST_F(UpstreamAgainstEmulator, SurvivesDropsRefusalsAndWithheldAcks) {
  UpstreamHarness h;
  const auto key = hub_.add_device("dev-a");
  h.run([&] { h.upstream().add(settings("dev-a", key)); });
  h.send(device("dev-a"), 0, 50);
  ASSERT_TRUE(h.outbox().wait_acked(50, 20s));

  ASSERT_EQ(hub_.call("POST", "/faults/drop", {{"deviceId", "dev-a"}}).status / 100, 2);
  h.send(device("dev-a"), 50, 50);
  ASSERT_TRUE(h.outbox().wait_acked(100, 30s)) << h.outbox().acked();

  ASSERT_EQ(hub_.call("POST", "/faults/refuse-connects", {{"seconds", 5}}).status / 100, 2);
  ASSERT_EQ(hub_.call("POST", "/faults/drop", {{"deviceId", "dev-a"}}).status / 100, 2);
  h.send(device("dev-a"), 100, 50);
  ASSERT_TRUE(h.outbox().wait_acked(150, 60s)) << h.outbox().acked();

  ASSERT_EQ(hub_.call("POST", "/faults/withhold-pubacks", {{"deviceId", "dev-a"}}).status / 100, 2);
  h.send(device("dev-a"), 150, 50);
  // The session notices no PUBACK progress within stall_timeout (5 s) and reconnects; the
  // emulator keeps withholding until we lift the fault, as a stuck link would until repaired.
  for (int i = 0; i < 200; ++i) {
    if (h.run([&] { return h.upstream().find(device("dev-a"))->counters().stalls; }) > 0) break;
    std::this_thread::sleep_for(50ms);  // polling a counter owned by the loop thread
  }
  ASSERT_GT(h.run([&] { return h.upstream().find(device("dev-a"))->counters().stalls; }), 0u);
  ASSERT_EQ(hub_.call("DELETE", "/faults").status / 100, 2);
  ASSERT_TRUE(h.outbox().wait_acked(200, 60s)) << h.outbox().acked();
  const auto duplicates = expect_complete_in_order("dev-a", 200);
  std::cout << "duplicates after the withheld-ack fault: " << duplicates << "\n";
  EXPECT_EQ(h.outbox().pending(device("dev-a")), 0u);
}

TEST_F(UpstreamAgainstEmulator, WrongKeyIsACredentialProblemAndIsNotRetriedHot) {
  UpstreamHarness h;
  hub_.add_device("dev-a");
  const std::string wrong = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  h.run([&] { h.upstream().add(settings("dev-a", wrong)); });
  for (int i = 0; i < 200; ++i) {
    if (h.run([&] { return h.upstream().find(device("dev-a"))->credential_problem(); })) break;
    std::this_thread::sleep_for(50ms);  // polling state owned by the loop thread
  }
  ASSERT_TRUE(h.run([&] { return h.upstream().find(device("dev-a"))->credential_problem(); }));
  std::vector<std::string> problems;
  h.run([&] { h.upstream().health(problems); });
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("identity dev-a: the hub refused its credentials"), std::string::npos);
  // A credential failure waits at least 30 s before trying again: watch for 5 s.
  std::this_thread::sleep_for(5s);  // the observation window itself
  EXPECT_EQ(hub_.connection_stats("dev-a")["connectAttempts"], 1);
}

}  // namespace
}  // namespace fieldlink::testing
