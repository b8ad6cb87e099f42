#pragma once
// The router (design.md §1): readings up, commands down.
//   Up:   Reading → identity (identity map) → Message (JSON body, content type, stable id) →
//         journal intake; the upstream is told the identity has data (and gets a session for an
//         identity of a wildcard family the first time one of its devices speaks).
//   Down: C2D, method or desired patch for an identity → its source → that source's adapter →
//         Outcome → method response, reported patch, or C2D completion. A device that does not
//         answer within hub.method_timeout is answered 504; an unknown identity or adapter 404.
// The gateway's own identity answers built-in methods: ping, status, reload.
//
// It lives in daemon/router/ rather than daemon/core/ (design.md §2 lists the Router in core):
// it needs the hub's Upstream and the identity map, which core must not depend on.
// Thread: the core loop, for every member and callback.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "config/config.hpp"
#include "core/adapter.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/rng.hpp"
#include "hub/upstream.hpp"
#include "identity-map/identity_map.hpp"
#include "status/device_list.hpp"
#include "status/status_board.hpp"
#include "store/journal_records.hpp"

namespace boost::asio {
class io_context;
}

namespace fieldlink {

// Where the router puts telemetry: the journal in the daemon.
class TelemetryIntake {
 public:
  virtual ~TelemetryIntake() = default;
  // False when the message cannot be taken now (the intake counts it).
  virtual bool append(Message message) = 0;
};

// Where C2D messages wait for their device: the journal's downlink queue in the daemon. A C2D
// message is acknowledged to the hub only once it is stored here, so a message for a sleeping
// device is not lost when the hub considers it delivered.
class CommandQueue {
 public:
  virtual ~CommandQueue() = default;
  // `stored(id, error)`: id > 0 once durable; 0 and why when it could not be stored.
  virtual void put(Command command, std::chrono::system_clock::time_point expires,
                   std::function<void(std::int64_t id, const std::string& error)> stored) = 0;
  virtual void due(std::size_t max, std::function<void(std::vector<QueuedCommand>)> done) = 0;
  virtual void attempted(std::int64_t id, std::chrono::system_clock::time_point retry_at) = 0;
  virtual void done(std::int64_t id) = 0;
};

struct RouterSettings {
  std::string gateway_name;
  std::string gateway_identity;  // device id; empty when the gateway has no identity of its own
  config::UnknownSources unknown_sources = config::UnknownSources::reject;
  bool gateway_mode = false;  // hub.mode: gateway — everything on the gateway's identity
  std::chrono::milliseconds method_timeout{std::chrono::seconds(30)};
  // How long a C2D message without its own expiry waits for an unreachable device.
  std::chrono::milliseconds c2d_life{std::chrono::hours(24 * 7)};
};

class Router final : public ReadingSink, public hub::DownlinkHandler, public StatusProvider {
 public:
  // What the built-in methods `status` and `reload` do; given by the composition root.
  struct GatewayActions {
    std::function<nlohmann::json()> status;
    std::function<void()> reload;
  };
  // Makes a session for an identity that needs one (first reading of a wildcard family member).
  using SessionFactory = std::function<void(const SourceAddress&, const Binding&)>;

  Router(boost::asio::io_context& loop, RouterSettings settings, TelemetryIntake& intake,
         CommandQueue& commands, hub::Upstream& upstream, SessionFactory sessions,
         GatewayActions actions, Logger& log, const Clock& clock, Rng& rng);
  ~Router() override;

  // Begins delivering downlink that waits in the queue (also what waited across a restart);
  // call once the adapters are attached.
  void start();
  void set_identities(std::shared_ptr<const IdentityMap> identities);
  void attach(Adapter& adapter);
  void detach(const AdapterName& name);

  Result push(Reading reading) override;
  void downlink(hub::Downlink d, hub::SettleDownlink complete) override;

  // A C2D message or method from the local control socket (fieldlinkctl send-c2d / invoke),
  // routed exactly as one from the hub but answered through `reply` instead of a session, so it
  // works while the hub is unreachable. A method is answered with the device's status and
  // payload (404 no device for the identity, 504 no answer within `timeout`, else
  // hub.method_timeout); the gateway's identity answers the built-ins. A C2D message is
  // answered 202 once it is in the downlink queue (as durable as one from the hub), 404 when no
  // device is bound to the identity, 503 when the queue could not store it. Replies once.
  using LocalReply = std::function<void(int status, const nlohmann::json& payload)>;
  void local_downlink(hub::Downlink d, std::optional<std::chrono::milliseconds> timeout,
                      LocalReply reply);

  void describe(nlohmann::json& status) const override;
  void collect(MetricsWriter& metrics) const override;
  void health(std::vector<std::string>& problems) const override;

  struct Counters {
    std::uint64_t readings = 0;
    std::uint64_t unknown_source = 0;
    std::uint64_t refused_by_store = 0;
    std::uint64_t methods = 0;
    std::uint64_t method_timeouts = 0;
    std::uint64_t c2d = 0;
    std::uint64_t c2d_undeliverable = 0;
    std::uint64_t c2d_delivered = 0;
    std::uint64_t c2d_retries = 0;
    std::uint64_t desired = 0;
    std::uint64_t reported = 0;
    std::uint64_t reported_failed = 0;  // no session, or the hub refused the patch
  };
  const Counters& counters() const { return counters_; }

 private:
  struct PendingMethod;

  // Where a method's answer goes: the session's method response, or a local caller.
  using Answer = std::function<void(int status, const nlohmann::json& payload)>;

  std::optional<Identity> identity_for(const SourceAddress& source);
  // The identity readings of no binding travel on, by policy (gateway mode, unknown_sources).
  std::optional<Identity> fallback_identity() const;
  // The client id a source's readings travel on, without making a session; "" when none.
  std::string client_id_of(const std::string& source) const;
  void route(hub::Downlink d, hub::SettleDownlink complete, Answer answer,
             std::chrono::milliseconds method_timeout);
  void gateway_method(const hub::Downlink& d, const Answer& answer);
  // A device's reported properties (or fieldlink's statement about it, such as
  // fieldlink.online) become a twin reported patch. Not journaled: a patch that finds the
  // session down is counted and logged, and the next change reports the state again.
  void report(const Identity& identity, const Reading& reading);
  void respond(const Identity& identity, const std::string& rid, int status,
               const nlohmann::json& payload);
  void run_method(hub::Downlink d, Adapter& adapter, const SourceAddress& target, Answer answer,
                  std::chrono::milliseconds timeout);
  std::string next_message_id();
  void queue_c2d(hub::Downlink d, const SourceAddress& target, hub::SettleDownlink complete);
  void deliver_due();
  void deliver(QueuedCommand queued);
  // Records a settled delivery attempt and tells the queue (done or retry later).
  void settle(std::int64_t id, std::optional<std::chrono::system_clock::time_point> retry_at);

  boost::asio::io_context& loop_;
  RouterSettings settings_;
  TelemetryIntake& intake_;
  CommandQueue& commands_;
  hub::Upstream& upstream_;
  SessionFactory sessions_;
  GatewayActions actions_;
  Logger& log_;
  const Clock& clock_;
  std::shared_ptr<const IdentityMap> identities_;
  std::map<std::string, Adapter*, std::less<>> adapters_;  // by adapter name
  // Source → identity, for sources already given a session: resolving again would match the
  // patterns and derive a group key (an HMAC) for every reading.
  std::map<std::string, Identity, std::less<>> known_;
  std::map<std::string, SourceActivity> activity_;  // source → its telemetry, for /status
  std::map<std::uint64_t, std::unique_ptr<PendingMethod>> methods_;
  std::set<std::int64_t> delivering_;  // queued C2D ids with an attempt in progress
  // The queue answers `due` on its own thread, so an answer can still list a message settled
  // after the question was asked. Each question gets a number; a settled id remembers the number
  // of the last question asked before it settled, and answers to that or an earlier question
  // skip it. Forgotten once every outstanding answer is newer.
  std::uint64_t due_asked_ = 0;
  std::map<std::int64_t, std::uint64_t> settled_;  // id → due_asked_ when it settled
  struct Timers;
  std::unique_ptr<Timers> timers_;
  std::uint64_t next_method_ = 0;
  std::string id_prefix_;
  std::uint64_t id_counter_ = 0;
  Counters counters_;
};

}  // namespace fieldlink
