#pragma once
// One identity's MQTT session with IoT Hub over our own client (design.md §4): connect with a
// fresh SAS token or client certificate, subscribe as the SDKs do, publish telemetry at QoS 1 in
// a bounded window, report each PUBACK, keep the twin's desired properties in sync, renew the
// token before it expires without losing or duplicating messages, and reconnect with backoff.
// No thread of its own: thousands share the core loop.
//
// States: offline → connecting → online → (backoff → connecting …); stopped at the end. A
// session never connects on its own: it asks its observer for a permit (connect pacing) and
// connects when `connect()` is called.
//
// Thread: the core loop. Observer callbacks run there, never re-entrantly from `publish`.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/message.hpp"
#include "core/rng.hpp"
#include "hub/backoff.hpp"
#include "hub/downlink.hpp"
#include "hub/mqtt/connection.hpp"
#include "hub/topics.hpp"

namespace boost::asio {
class io_context;
}

namespace fieldlink::hub {

namespace mqtt {
class TlsContext;
}

enum class SessionState { offline, connecting, online, backoff, stopped };
const char* to_string(SessionState s);

struct SessionSettings {
  Identity identity;
  std::string hub_host;             // signs SAS tokens and names the hub in the user name
  mqtt::Endpoint endpoint;          // where to connect: the hub, or an edgeHub (hub.gateway_host)
  std::string sas_key;              // base64 symmetric key; empty for an X.509 identity
  mqtt::TlsContext* tls = nullptr;  // shared for SAS, the identity's own for X.509; null = plain
  std::chrono::milliseconds keepalive{std::chrono::minutes(4)};
  std::chrono::milliseconds token_ttl{std::chrono::hours(1)};
  std::chrono::milliseconds stall_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds open_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
  std::size_t inflight = 32;
};

class Session;

class SessionObserver {
 public:
  virtual ~SessionObserver() = default;
  // The session wants to (re)connect; call session.connect() when pacing allows.
  virtual void want_connect(Session& s) = 0;
  virtual void state_changed(Session& s) = 0;
  // Online with room in the window (again).
  virtual void ready_to_send(Session& s) = 0;
  virtual void acked(Session& s, std::uint64_t seq) = 0;
  // The connection ended with messages in flight; `lowest_seq` is the oldest of them. They were
  // not acknowledged and must be sent again.
  virtual void unacked_returned(Session& s, std::uint64_t lowest_seq) = 0;
  // A C2D message, method request or desired update. For C2D, `complete` must be called once the
  // message is durable: only then is the hub told (PUBACK, in arrival order). It is safe to call
  // after the session reconnected or ended (it then does nothing; the hub redelivers).
  virtual void downlink(Session& s, Downlink d, SettleDownlink complete) = 0;
};

class Session {
 public:
  struct Counters {
    std::uint64_t connect_attempts = 0;
    std::uint64_t reconnects = 0;
    std::uint64_t token_renewals = 0;
    std::uint64_t sent = 0;
    std::uint64_t acked = 0;
    std::uint64_t refused_too_large = 0;
    std::uint64_t inbound_dropped = 0;  // topics we could not make sense of
    std::uint64_t stalls = 0;           // left: PUBACKs stopped coming (hub.stall_timeout)
    std::uint64_t write_backlogs = 0;   // left: the hub stopped reading what we wrote
    std::uint64_t c2d_abandoned = 0;    // not kept downstream; left to the hub to redeliver
  };
  enum class PublishResult { sent, too_large, not_ready };

  Session(boost::asio::io_context& loop, SessionSettings settings, SessionObserver& observer,
          Logger& log, const Clock& clock, Rng& rng);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start();
  void connect();
  // Sends DISCONNECT (when online) and stops for good.
  void stop();
  // Stopping without a duplicate: publishes nothing new, lets the in-flight PUBACKs arrive, then
  // stops (DISCONNECT). Stops at once when not online or nothing is in flight, and when the
  // connection fails meanwhile. The caller bounds the wait: stop() ends it.
  void quiesce();
  // Another session just got through to the hub: if this one is backing off because the hub was
  // unreachable (not for its credentials, not because the hub closed it), it asks to connect now
  // (still paced by the upstream) instead of sleeping out a step that may have grown to minutes.
  // Returns whether it did.
  bool retry_now();
  // While state_changed(online) runs: whether this session got through after failing to reach
  // the hub (the first sign that an outage is over).
  bool back_from_unreachable() const { return unreachable_; }

  bool can_publish() const;
  PublishResult publish(std::uint64_t seq, const Message& message, bool redelivery);
  void respond_method(const std::string& rid, int status, const std::string& payload);
  // Reports a reported-properties patch; `done(status, version)` runs once: 204 and the new
  // version, the hub's error status, or 503 when the session went down first / 504 on timeout.
  void report(const std::string& patch_json,
              std::function<void(int status, std::optional<std::int64_t> version)> done);

  const Identity& identity() const { return settings_.identity; }
  SessionState state() const { return state_; }
  const std::string& last_error() const { return last_error_; }
  bool credential_problem() const { return credential_problem_; }
  std::size_t in_flight() const { return inflight_.size(); }
  const Counters& counters() const { return counters_; }
  // When the last connection attempt began (what hub.connect_rate paces).
  std::chrono::steady_clock::time_point last_attempt() const { return last_attempt_; }
  // Failures since the last connection that lasted (how far the reconnect delay has grown).
  std::uint32_t backoff_step() const { return backoff_.attempts(); }
  void describe(nlohmann::json& out) const;

 private:
  struct PendingC2d {
    std::uint16_t packet_id;
    bool durable;
  };
  struct PendingReport {
    std::function<void(int, std::optional<std::int64_t>)> done;
    std::chrono::steady_clock::time_point deadline;
  };

  void set_state(SessionState s);
  void on_open();
  void on_packet(mqtt::ServerPacket&& packet);
  void on_connack(const mqtt::Connack& c);
  void on_suback(const mqtt::Suback& s);
  void on_puback(const mqtt::Puback& p);
  void on_publish(mqtt::Publish&& p);
  void on_twin_response(const Inbound& in, const std::string& payload);
  void on_desired(std::int64_t version, std::string payload);
  void start_desired_sync();
  void deliver_desired(std::int64_t version, std::string payload, bool full);
  void complete_c2d(std::uint64_t generation, std::uint16_t packet_id);
  void abandon_c2d(std::uint64_t generation);
  void fail(const std::string& reason, bool credential);
  void end_connection(bool graceful);
  void begin_renewal();
  void finish_renewal();
  void arm_keepalive();
  void arm_stall();
  void arm_requests();
  std::uint16_t next_packet_id();
  std::string next_rid();
  void send(std::string bytes);

  boost::asio::io_context& loop_;
  SessionSettings settings_;
  SessionObserver& observer_;
  Logger& log_;
  const Clock& clock_;
  Rng& rng_;
  Backoff backoff_;
  std::shared_ptr<mqtt::Connection> connection_;
  std::uint64_t generation_ = 0;  // bumps with every connection; stale completions are ignored
  SessionState state_ = SessionState::offline;
  std::chrono::system_clock::time_point since_;
  std::string last_error_;
  bool credential_problem_ = false;
  std::chrono::milliseconds token_life_{};  // of the token sent with the last CONNECT
  bool draining_ = false;     // token renewal: no new publishes until in-flight ones are acked
  bool quiescing_ = false;    // stopping once the in-flight ones are acked
  bool unreachable_ = false;  // backing off after a failure before getting online
  bool ping_outstanding_ = false;
  // (packet id, journal sequence) in the order sent. A short vector, not a map: the hub acks in
  // order, so a PUBACK's entry is at the front, and a packet id is checked against a few dozen
  // contiguous entries instead of a tree walked per packet (it showed in the flood profile).
  std::vector<std::pair<std::uint16_t, std::uint64_t>> inflight_;
  std::chrono::steady_clock::time_point last_progress_;
  std::chrono::steady_clock::time_point last_attempt_;
  std::chrono::steady_clock::time_point online_at_;
  std::deque<PendingC2d> c2d_pending_;
  std::map<std::string, PendingReport> reports_;
  std::string get_rid_;  // rid of the twin GET in progress, if any
  std::vector<std::pair<std::int64_t, std::string>> desired_buffer_;  // during a GET
  std::optional<std::int64_t> desired_version_;                       // last applied
  std::uint16_t last_packet_id_ = 0;
  std::uint64_t rid_counter_ = 0;
  Counters counters_;
  struct Timers;
  std::unique_ptr<Timers> timers_;
  // Handlers already queued when the session is destroyed (a timer that fired, a C2D completion
  // held by the router) check this before touching the session.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace fieldlink::hub
