#include "hub/upstream.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

namespace fieldlink::hub {
namespace {

// Sends per pump turn before yielding the loop to other work (acks, downlink, status).
constexpr int kSendsPerTurn = 256;
// Sends of one identity in a row before the next identity's turn.
constexpr int kSendsPerFeedInARow = 8;
constexpr std::size_t kMinReadAhead = 16;
// A backlog is read in pages of up to this many windows: each page is one round trip through
// the journal's lane, queued behind its group commits, and with window-sized pages a drain
// spent most of its time waiting for those hops (PROPOSALS.md §2).
constexpr std::size_t kReadAheadWindows = 8;
// Messages read ahead across all feeds (bodies are shared, so roughly 0.3 KB each for small
// readings): many identities share it, so 1,000 of them read no more than a window each.
constexpr std::size_t kReadAheadBudget = 32'768;

}  // namespace

struct Upstream::Feed {
  std::unique_ptr<Session> session;
  std::size_t window = 0;
  std::uint64_t cursor = 0;          // next sequence to ask the outbox for
  std::uint64_t sent_before = 0;     // sequences below this may have reached the hub already
  std::deque<Outbox::Entry> buffer;  // read ahead, not yet published
  std::uint64_t generation = 0;      // bumps when the read-ahead is invalidated
  bool peeking = false;
  bool more = true;  // the outbox may hold more from `cursor` on
  bool in_ready = false;
  bool waiting_connect = false;
  bool holding = false;   // the outbox has handed us messages we have not released
  bool hastened = false;  // reconnecting early because another session got through
};

struct Upstream::Timers {
  explicit Timers(boost::asio::io_context& loop) : connect(loop), pump(loop), grace(loop) {}
  boost::asio::steady_timer connect;
  boost::asio::steady_timer pump;
  boost::asio::steady_timer grace;
  bool connect_armed = false;
};

Upstream::Upstream(boost::asio::io_context& loop, UpstreamSettings settings, Outbox& outbox,
                   DownlinkHandler& downlink, Logger& log, const Clock& clock, Rng& rng)
    : loop_(loop),
      settings_(settings),
      outbox_(outbox),
      downlink_(downlink),
      log_(log),
      clock_(clock),
      rng_(rng),
      connect_pacer_(clock, settings.connect_per_second),
      send_bucket_(clock, settings.send_per_second, std::max(1.0, settings.send_per_second / 10)),
      timers_(std::make_unique<Timers>(loop)) {}

Upstream::~Upstream() = default;

Upstream::Feed* Upstream::feed_of(const Identity& identity) {
  const auto it = feeds_.find(identity.client_id());
  return it == feeds_.end() ? nullptr : it->second.get();
}

Upstream::Feed* Upstream::feed_of(const Session& session) {
  const auto it = by_session_.find(&session);
  return it == by_session_.end() ? nullptr : it->second;
}

void Upstream::add(SessionSettings settings) {
  const auto id = settings.identity.client_id();
  auto feed = std::make_unique<Feed>();
  // Generations are unique across feeds, so a peek answered for a removed feed is never taken
  // by a new feed of the same identity.
  feed->generation = ++generations_;
  feed->window = settings.inflight;
  feed->session = std::make_unique<Session>(loop_, std::move(settings), *this, log_, clock_, rng_);
  auto& f = *feeds_.emplace(id, std::move(feed)).first->second;
  by_session_.emplace(f.session.get(), &f);
  f.session->start();
  refill(f);
}

void Upstream::remove(const Identity& identity) {
  const auto it = feeds_.find(identity.client_id());
  if (it == feeds_.end()) return;
  it->second->session->stop();
  std::erase(ready_, it->second.get());
  by_session_.erase(it->second->session.get());
  feeds_.erase(it);  // queued connect requests of it are skipped when they come up
}

void Upstream::notify(const Identity& identity) {
  if (auto* f = feed_of(identity)) {
    f->more = true;
    refill(*f);
  }
}

Session* Upstream::find(const Identity& identity) {
  auto* f = feed_of(identity);
  return f ? f->session.get() : nullptr;
}

void Upstream::stop() {
  for (auto& [id, f] : feeds_)
    f->session->stop();
  timers_->connect.cancel();
  timers_->pump.cancel();
  timers_->grace.cancel();
  connect_queue_.clear();
  if (auto stopped = std::move(stopped_)) {
    stopped_ = nullptr;
    stopped();
  }
}

void Upstream::stop(std::chrono::milliseconds grace, std::function<void()> stopped) {
  stopped_ = std::move(stopped);
  timers_->connect.cancel();
  connect_queue_.clear();
  timers_->grace.expires_after(grace);
  timers_->grace.async_wait([this](boost::system::error_code ec) {
    if (!ec) stop();
  });
  // Each session stops on its own last PUBACK; state_changed counts them down.
  for (auto& [id, f] : feeds_)
    f->session->quiesce();
  check_stopped();
}

void Upstream::check_stopped() {
  if (!stopped_) return;
  for (const auto& [id, f] : feeds_) {
    if (f->session->state() != SessionState::stopped) return;
  }
  stop();
}

std::size_t Upstream::read_ahead(const Feed& f) const {
  const auto share = kReadAheadBudget / std::max<std::size_t>(feeds_.size(), 1);
  return std::max({f.window, kMinReadAhead, std::min(f.window * kReadAheadWindows, share)});
}

void Upstream::refill(Feed& f) {
  const auto batch = read_ahead(f);
  // Offline, nothing is read ahead: what we do not hold, the journal may evict under a full disk
  // (and count exactly), and the session reads from its oldest unacknowledged message when it is
  // back anyway. Online, the next page is asked for once half of this one is sent, so the
  // session is not left waiting for the lane between pages.
  if (f.peeking || !f.more || f.buffer.size() >= std::max(f.window, batch / 2) ||
      f.session->state() != SessionState::online) {
    return;
  }
  f.peeking = true;
  f.holding = true;
  outbox_.peek(f.session->identity(), f.cursor, batch - f.buffer.size(),
               [this, id = f.session->identity(),
                generation = f.generation](std::vector<Outbox::Entry> entries) {
                 auto* feed = feed_of(id);
                 if (feed == nullptr || feed->generation != generation) return;
                 feed->peeking = false;
                 // Not "== batch": the journal filters acknowledged-but-uncommitted rows after
                 // its limit, so a short page does not mean the end. An empty one does.
                 feed->more = !entries.empty();
                 if (!entries.empty()) feed->cursor = entries.back().seq + 1;
                 for (auto& e : entries)
                   feed->buffer.push_back(std::move(e));
                 if (!feed->buffer.empty()) mark_ready(*feed);
               });
}

void Upstream::mark_ready(Feed& f) {
  if (f.in_ready || f.buffer.empty() || !f.session->can_publish()) return;
  f.in_ready = true;
  ready_.push_back(&f);
  schedule_pump({});
}

void Upstream::schedule_pump(std::chrono::nanoseconds after) {
  if (pump_scheduled_) return;
  pump_scheduled_ = true;
  if (after.count() <= 0) {
    boost::asio::post(loop_, [this] { pump(); });
    return;
  }
  timers_->pump.expires_after(after);
  timers_->pump.async_wait([this](boost::system::error_code ec) {
    if (!ec) pump();
  });
}

void Upstream::pump() {
  pump_scheduled_ = false;
  int sent = 0;
  while (sent < kSendsPerTurn && !ready_.empty()) {
    auto& f = *ready_.front();
    if (!f.session->can_publish() || f.buffer.empty()) {
      ready_.pop_front();
      f.in_ready = false;
      refill(f);
      continue;
    }
    if (!send_bucket_.try_take()) return schedule_pump(send_bucket_.wait_time());
    ready_.pop_front();
    f.in_ready = false;
    // A few in a row: the connection sends what one turn queued in one TLS record and one
    // syscall, where one message per identity per turn cost a record and a syscall each.
    for (int burst = 0;;) {
      auto& entry = f.buffer.front();
      const auto result = f.session->publish(entry.seq, entry.message, entry.seq < f.sent_before);
      if (result == Session::PublishResult::too_large) {
        log_.error(
            {.event = "upstream.too_large", .identity = f.session->identity().client_id()},
            "message " + entry.message.id + " is larger than IoT Hub accepts (256 KB); dropped");
        outbox_.reject(f.session->identity(), entry.seq, "too_large");
      }
      f.sent_before = std::max(f.sent_before, entry.seq + 1);
      f.buffer.pop_front();
      ++sent;
      if (++burst == kSendsPerFeedInARow || sent == kSendsPerTurn || f.buffer.empty() ||
          !f.session->can_publish() || !send_bucket_.try_take()) {
        break;
      }
    }
    refill(f);
    mark_ready(f);  // back of the queue: identities take turns
  }
  if (!ready_.empty()) schedule_pump({});
}

void Upstream::want_connect(Session& s) {
  if (stopped_) return;  // stopping: no new connections
  auto* f = feed_of(s);
  if (f == nullptr || f->waiting_connect) return;
  f->waiting_connect = true;
  connect_queue_.push_back(s.identity().client_id());
  grant_connects();
}

void Upstream::grant_connects() {
  while (!connect_queue_.empty()) {
    const auto it = feeds_.find(connect_queue_.front());
    if (it == feeds_.end()) {
      connect_queue_.pop_front();
      continue;
    }
    if (!connect_pacer_.try_take()) {
      if (timers_->connect_armed) return;
      timers_->connect_armed = true;
      timers_->connect.expires_after(connect_pacer_.wait_time());
      timers_->connect.async_wait([this](boost::system::error_code ec) {
        timers_->connect_armed = false;
        if (!ec) grant_connects();
      });
      return;
    }
    connect_queue_.pop_front();
    it->second->waiting_connect = false;
    ++connects_granted_;
    it->second->session->connect();
  }
}

void Upstream::state_changed(Session& s) {
  if (s.state() == SessionState::online) {
    log_.info({.event = "session.online", .identity = s.identity().client_id()},
              s.identity().client_id() + ": connected");
    // The hub is reachable again (after an outage every session backs off on its own jittered
    // step, up to a minute): the others come back now, at the connect pace, not step by step.
    // Only the first session back sweeps: one that was hastened, or that never failed, does not,
    // so a site of N identities coming back costs one pass over the feeds, not N.
    auto* self = feed_of(s);
    const bool sweep = s.back_from_unreachable() && self != nullptr && !self->hastened;
    if (self != nullptr) self->hastened = false;
    if (!sweep) return;
    std::size_t hastened = 0;
    for (auto& [id, f] : feeds_) {
      if (f.get() != self && f->session->retry_now()) {
        f->hastened = true;
        ++hastened;
      }
    }
    if (hastened > 0) {
      retries_hastened_ += hastened;
      log_.info({.event = "upstream.reachable", .identity = s.identity().client_id()},
                "the hub is reachable again: " + std::to_string(hastened) +
                    " session(s) backing off reconnect now");
    }
    return;
  }
  if (s.state() == SessionState::stopped && stopped_) {
    // Deferred: this runs inside the session's own stop().
    boost::asio::post(loop_, [this] { check_stopped(); });
  }
  auto* f = feed_of(s);
  if (f == nullptr) return;
  if (s.state() == SessionState::backoff) f->hastened = false;  // failed again: may sweep later
  if (!f->holding) return;
  // The read-ahead is given back: it is read again from the first message not yet sent.
  if (!f->buffer.empty()) f->cursor = std::min(f->cursor, f->buffer.front().seq);
  f->generation = ++generations_;
  f->peeking = false;
  f->buffer.clear();
  f->more = true;
  f->holding = false;
  outbox_.release(s.identity());
}

void Upstream::ready_to_send(Session& s) {
  if (auto* f = feed_of(s)) {
    refill(*f);
    mark_ready(*f);
  }
}

void Upstream::acked(Session& s, std::uint64_t seq) {
  outbox_.ack(s.identity(), seq);
}

void Upstream::unacked_returned(Session& s, std::uint64_t lowest_seq) {
  auto* f = feed_of(s);
  if (f == nullptr) return;
  // Everything from the oldest unacknowledged message on is read again, in order.
  f->generation = ++generations_;
  f->peeking = false;
  f->buffer.clear();
  f->cursor = lowest_seq;
  f->more = true;
}

void Upstream::downlink(Session&, Downlink d, SettleDownlink complete) {
  downlink_.downlink(std::move(d), std::move(complete));
}

void Upstream::describe(nlohmann::json& status) const {
  auto& sessions = status["sessions"];
  for (const auto& [id, f] : feeds_) {
    nlohmann::json s;
    f->session->describe(s);
    s["queued"] = f->buffer.size();
    sessions.push_back(std::move(s));
  }
}

void Upstream::describe_summary(nlohmann::json& status) const {
  std::map<std::string, std::uint64_t> by_state;
  for (const auto& [id, f] : feeds_)
    ++by_state[to_string(f->session->state())];
  status["sessions"] = {{"count", feeds_.size()}, {"by_state", by_state}};
}

void Upstream::collect(MetricsWriter& m) const {
  std::map<std::string, int> by_state;
  for (const auto& [id, f] : feeds_)
    ++by_state[to_string(f->session->state())];
  for (const auto* state : {"offline", "connecting", "online", "backoff", "stopped"}) {
    m.gauge("fieldlink_hub_sessions", "Hub sessions by state.", by_state[state],
            {{"state", state}});
  }
  m.counter("fieldlink_hub_connects_granted_total", "Connection attempts let through the pacing.",
            static_cast<double>(connects_granted_));
  m.counter("fieldlink_hub_retries_hastened_total",
            "Sessions backing off that reconnected early because another got through.",
            static_cast<double>(retries_hastened_));
  for (const auto& [id, f] : feeds_) {
    const auto& c = f->session->counters();
    const MetricsWriter::Labels l{{"identity", id}};
    m.counter("fieldlink_hub_messages_sent_total", "Telemetry messages published.",
              static_cast<double>(c.sent), l);
    m.counter("fieldlink_hub_messages_acked_total", "Telemetry messages acknowledged by the hub.",
              static_cast<double>(c.acked), l);
    m.gauge("fieldlink_hub_in_flight", "Messages awaiting PUBACK.",
            static_cast<double>(f->session->in_flight()), l);
    m.counter("fieldlink_hub_reconnects_total", "Connections lost after being online.",
              static_cast<double>(c.reconnects), l);
    m.counter("fieldlink_hub_connect_attempts_total", "Connection attempts.",
              static_cast<double>(c.connect_attempts), l);
    m.counter("fieldlink_hub_token_renewals_total", "Reconnects to renew the SAS token.",
              static_cast<double>(c.token_renewals), l);
    m.counter("fieldlink_hub_messages_too_large_total", "Messages the hub could never take.",
              static_cast<double>(c.refused_too_large), l);
    m.counter("fieldlink_hub_stalls_total",
              "Connections left because PUBACKs stopped coming (hub.stall_timeout).",
              static_cast<double>(c.stalls), l);
    m.counter("fieldlink_hub_write_backlogs_total",
              "Connections left because the hub stopped reading what was written to it.",
              static_cast<double>(c.write_backlogs), l);
    m.counter("fieldlink_hub_c2d_abandoned_total",
              "C2D messages not kept downstream (journal full), left to the hub to redeliver.",
              static_cast<double>(c.c2d_abandoned), l);
    m.counter("fieldlink_hub_inbound_dropped_total",
              "Messages from the hub on topics that could not be understood.",
              static_cast<double>(c.inbound_dropped), l);
  }
}

void Upstream::health(std::vector<std::string>& problems) const {
  for (const auto& [id, f] : feeds_) {
    if (f->session->credential_problem()) {
      problems.push_back("identity " + id +
                         ": the hub refused its credentials: " + f->session->last_error());
    }
  }
}

}  // namespace fieldlink::hub
