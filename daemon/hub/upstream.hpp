#pragma once
// The pool of hub sessions (design.md §1, §5): one Session per identity, all on the core loop.
// It paces new connections across identities with a token bucket (hub.connect_rate) so a whole
// site reconnecting after an outage never trips the hub's connect throttle, paces sends
// (hub.send_rate), and serves identities round-robin so no identity starves another. It moves
// telemetry from the Outbox to the sessions and acknowledges it there on PUBACK; downlink goes
// to the DownlinkHandler (the router).
// Thread: the core loop.
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/rng.hpp"
#include "hub/connect_pacer.hpp"
#include "hub/outbox.hpp"
#include "hub/session.hpp"
#include "hub/token_bucket.hpp"
#include "status/status_board.hpp"

namespace boost::asio {
class io_context;
}

namespace fieldlink::hub {

class DownlinkHandler {
 public:
  virtual ~DownlinkHandler() = default;
  // See SessionObserver::downlink for `complete`.
  virtual void downlink(Downlink d, SettleDownlink complete) = 0;
};

struct UpstreamSettings {
  double connect_per_second = 10;
  double send_per_second = 0;  // 0: unlimited
};

class Upstream final : public SessionObserver, public StatusProvider {
 public:
  Upstream(boost::asio::io_context& loop, UpstreamSettings settings, Outbox& outbox,
           DownlinkHandler& downlink, Logger& log, const Clock& clock, Rng& rng);
  ~Upstream() override;

  // Adds an identity and starts its session (paced). Its sessions's settings are fixed until it
  // is removed; a changed binding is a remove and an add.
  void add(SessionSettings settings);
  void remove(const Identity& identity);
  // New messages were stored for `identity`: take them when its session can send.
  void notify(const Identity& identity);
  Session* find(const Identity& identity);
  std::uint64_t retries_hastened() const { return retries_hastened_; }
  // Disconnects every session cleanly, now.
  void stop();
  // Disconnects every session once its in-flight messages are acknowledged (a message whose
  // PUBACK never came is sent again after a restart: a duplicate at the hub), at most `grace`
  // later; then `stopped`. Nothing new is published meanwhile.
  void stop(std::chrono::milliseconds grace, std::function<void()> stopped);

  void describe(nlohmann::json& status) const override;
  void describe_summary(nlohmann::json& status) const override;
  void collect(MetricsWriter& metrics) const override;
  void health(std::vector<std::string>& problems) const override;

  // SessionObserver
  void want_connect(Session& s) override;
  void state_changed(Session& s) override;
  void ready_to_send(Session& s) override;
  void acked(Session& s, std::uint64_t seq) override;
  void unacked_returned(Session& s, std::uint64_t lowest_seq) override;
  void downlink(Session& s, Downlink d, SettleDownlink complete) override;

 private:
  struct Feed;  // one identity's session and its read-ahead of the outbox

  Feed* feed_of(const Identity& identity);
  Feed* feed_of(const Session& session);
  std::size_t read_ahead(const Feed& feed) const;
  void refill(Feed& feed);
  void mark_ready(Feed& feed);
  void pump();
  void schedule_pump(std::chrono::nanoseconds after);
  void grant_connects();
  void check_stopped();

  boost::asio::io_context& loop_;
  UpstreamSettings settings_;
  Outbox& outbox_;
  DownlinkHandler& downlink_;
  Logger& log_;
  const Clock& clock_;
  Rng& rng_;
  ConnectPacer connect_pacer_;
  TokenBucket send_bucket_;
  std::map<std::string, std::unique_ptr<Feed>> feeds_;  // by client id
  std::deque<std::string> connect_queue_;
  // Feeds with something to send, in turn. Feeds are held by unique_ptr, so these stay valid
  // until remove() takes the feed out of the queue as well; no lookup by client id per send.
  std::deque<Feed*> ready_;
  // The feed of each session, for the observer calls that come per PUBACK.
  std::unordered_map<const Session*, Feed*> by_session_;
  struct Timers;
  std::unique_ptr<Timers> timers_;
  bool pump_scheduled_ = false;
  std::function<void()> stopped_;  // set while stop(grace, ...) waits for PUBACKs
  std::uint64_t connects_granted_ = 0;
  std::uint64_t retries_hastened_ = 0;
  std::uint64_t generations_ = 0;
};

}  // namespace fieldlink::hub
