#include "hub/session.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <algorithm>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "core/utc_time.hpp"
#include "hub/sas_token.hpp"

namespace fieldlink::hub {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// IoT Hub refuses telemetry over 256 KB, counting topic (properties) and body (§1.7).
constexpr std::size_t kMaxTelemetry = 256 * 1024;
// Telemetry waiting to be written is bounded by the in-flight window; the rest we queue (C2D
// acknowledgements, method answers, reported patches, pings) is not. Beyond a full window of the
// largest messages plus this, the hub has stopped reading: reconnect rather than keep growing
// until keep-alive notices.
constexpr std::size_t kUnwrittenSlack = 1024 * 1024;
constexpr auto kStableConnection = std::chrono::minutes(1);
// The largest packet we accept from the hub: C2D 64 KB, methods 128 KB, twin 32 KB + topic.
constexpr std::size_t kMaxInbound = 160 * 1024;
// How long a renewal waits for in-flight PUBACKs before it reconnects anyway.
constexpr milliseconds kDrainLimit = 10s;

std::string describe_connack(std::uint8_t rc) {
  // 5 from the hub means the credential: say which ones it can be.
  if (rc == 5)
    return "not authorized (wrong or expired key, or the identity is disabled or deleted)";
  return mqtt::connack_text(rc);
}

}  // namespace

const char* to_string(SessionState s) {
  switch (s) {
    case SessionState::offline:
      return "offline";
    case SessionState::connecting:
      return "connecting";
    case SessionState::online:
      return "online";
    case SessionState::backoff:
      return "backoff";
    case SessionState::stopped:
      return "stopped";
  }
  return "?";
}

struct Session::Timers {
  explicit Timers(boost::asio::io_context& loop)
      : retry(loop),
        keepalive(loop),
        renew(loop),
        drain(loop),
        stall(loop),
        get(loop),
        requests(loop) {}
  void cancel_connection_timers() {
    keepalive.cancel();
    get.cancel();
    renew.cancel();
    drain.cancel();
    stall.cancel();
  }
  boost::asio::steady_timer retry, keepalive, renew, drain, stall, get, requests;
};

Session::Session(boost::asio::io_context& loop, SessionSettings settings, SessionObserver& observer,
                 Logger& log, const Clock& clock, Rng& rng)
    : loop_(loop),
      settings_(std::move(settings)),
      observer_(observer),
      log_(log),
      clock_(clock),
      rng_(rng),
      backoff_(rng),
      since_(clock.wall_now()),
      timers_(std::make_unique<Timers>(loop)) {}

Session::~Session() {
  if (connection_) connection_->close();
}

void Session::set_state(SessionState s) {
  if (s == state_) return;
  state_ = s;
  since_ = clock_.wall_now();
  observer_.state_changed(*this);
}

void Session::start() {
  if (state_ != SessionState::offline) return;
  observer_.want_connect(*this);
}

void Session::connect() {
  if (state_ == SessionState::stopped || connection_) return;
  set_state(SessionState::connecting);
  ++counters_.connect_attempts;
  last_attempt_ = clock_.now();
  ++generation_;
  connection_ = mqtt::Connection::create(
      loop_, settings_.tls, settings_.endpoint,
      {[this] { on_open(); }, [this](mqtt::ServerPacket&& p) { on_packet(std::move(p)); },
       [this](const std::string& why) { fail(why, false); }},
      settings_.open_timeout, kMaxInbound);
  connection_->open();
}

void Session::stop() {
  if (state_ == SessionState::stopped) return;
  end_connection(state_ == SessionState::online);
  timers_->retry.cancel();
  timers_->requests.cancel();
  set_state(SessionState::stopped);
}

void Session::quiesce() {
  if (state_ != SessionState::online || inflight_.empty()) return stop();
  quiescing_ = true;
  draining_ = true;
  timers_->renew.cancel();
}

bool Session::retry_now() {
  if (state_ != SessionState::backoff || !unreachable_) return false;
  timers_->retry.cancel();
  observer_.want_connect(*this);
  return true;
}

void Session::send(std::string bytes) {
  if (!connection_) return;
  const auto unwritten = connection_->queued_bytes() + bytes.size();
  if (unwritten > settings_.inflight * kMaxTelemetry + kUnwrittenSlack) {
    // Not failed here: send runs inside publish and report, which go on to record what they sent.
    boost::asio::post(loop_,
                      [this, alive = std::weak_ptr<int>(alive_), g = generation_, unwritten] {
                        if (alive.expired() || g != generation_ || !connection_) return;
                        ++counters_.write_backlogs;
                        fail("the hub stopped reading: " + std::to_string(unwritten / 1024) +
                                 " KiB waiting to be written",
                             false);
                      });
    return;
  }
  connection_->send(std::move(bytes));
}

void Session::on_open() {
  // A server that completes TLS but never answers CONNECT (or SUBSCRIBE) would otherwise keep
  // the identity "connecting" forever with no error to retry on.
  timers_->keepalive.expires_after(settings_.open_timeout);
  timers_->keepalive.async_wait([this, alive = std::weak_ptr<int>(alive_),
                                 g = generation_](boost::system::error_code ec) {
    if (!ec && !alive.expired() && g == generation_ && state_ == SessionState::connecting) {
      fail(
          "no CONNACK/SUBACK within " + std::to_string(settings_.open_timeout.count() / 1000) + "s",
          false);
    }
  });
  mqtt::Connect c;
  c.client_id = settings_.identity.client_id();
  c.username = mqtt_username(settings_.hub_host, settings_.identity);
  c.keepalive_seconds = static_cast<std::uint16_t>(
      std::chrono::duration_cast<std::chrono::seconds>(settings_.keepalive).count());
  c.clean_session = false;  // C2D and subscriptions survive reconnects, as with the SDKs
  if (!settings_.sas_key.empty()) {
    // `se` has whole seconds: remember the expiry as the hub will see it.
    const auto expiry =
        std::chrono::time_point_cast<std::chrono::seconds>(clock_.wall_now() + settings_.token_ttl);
    token_life_ = std::chrono::duration_cast<milliseconds>(expiry - clock_.wall_now());
    c.password = make_sas_token(sas_resource(settings_.hub_host, settings_.identity),
                                settings_.sas_key, expiry);
    if (!c.password) return fail("the identity's key is not valid base64", true);
  }
  send(mqtt::encode(c));
}

void Session::on_packet(mqtt::ServerPacket&& packet) {
  // Any packet from the server proves the link is alive.
  ping_outstanding_ = false;
  std::visit(
      [this](auto&& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, mqtt::Connack>) {
          on_connack(p);
        } else if constexpr (std::is_same_v<T, mqtt::Suback>) {
          on_suback(p);
        } else if constexpr (std::is_same_v<T, mqtt::Puback>) {
          on_puback(p);
        } else if constexpr (std::is_same_v<T, mqtt::Publish>) {
          on_publish(std::move(p));
        }
      },
      std::move(packet));
}

void Session::on_connack(const mqtt::Connack& c) {
  if (state_ != SessionState::connecting) return fail("unexpected CONNACK", false);
  if (c.return_code != 0) {
    const bool credential = c.return_code == 4 || c.return_code == 5;
    return fail("hub refused the connection: " + describe_connack(c.return_code), credential);
  }
  mqtt::Subscribe s;
  s.packet_id = next_packet_id();
  for (auto& filter : subscription_filters(settings_.identity)) {
    const std::uint8_t qos = filter.starts_with("devices/") ? 1 : 0;  // as the SDKs subscribe
    s.filters.emplace_back(std::move(filter), qos);
  }
  send(mqtt::encode(s));
}

void Session::on_suback(const mqtt::Suback& s) {
  for (const auto code : s.return_codes) {
    if (code == 0x80) return fail("the hub refused a subscription", false);
  }
  if (state_ != SessionState::connecting) return;
  online_at_ = clock_.now();
  credential_problem_ = false;
  last_error_.clear();
  draining_ = false;
  set_state(SessionState::online);
  unreachable_ = false;
  arm_keepalive();
  // Renew at about 80 % of the token's life, spread ±8 % so identities that connected together
  // do not all renew together.
  if (!settings_.sas_key.empty()) {
    const auto ttl = token_life_.count();
    const auto at =
        ttl * 72 / 100 +
        static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(ttl * 16 / 100 + 1)));
    timers_->renew.expires_after(milliseconds(at));
    timers_->renew.async_wait(
        [this, alive = std::weak_ptr<int>(alive_), g = generation_](boost::system::error_code ec) {
          if (!ec && !alive.expired() && g == generation_) begin_renewal();
        });
  }
  start_desired_sync();
  if (can_publish()) observer_.ready_to_send(*this);
}

bool Session::can_publish() const {
  return state_ == SessionState::online && !draining_ && inflight_.size() < settings_.inflight;
}

Session::PublishResult Session::publish(std::uint64_t seq, const Message& message,
                                        bool redelivery) {
  if (!can_publish()) return PublishResult::not_ready;
  mqtt::Publish p;
  p.topic = telemetry_topic(settings_.identity, bag_of(message));
  // The topic (it carries the properties) must also fit MQTT's 16-bit length.
  if (p.topic.size() > 65535 ||
      p.topic.size() + (message.body ? message.body->size() : 0) > kMaxTelemetry) {
    ++counters_.refused_too_large;
    return PublishResult::too_large;
  }
  p.qos = 1;
  p.dup = redelivery;
  p.packet_id = next_packet_id();
  if (inflight_.empty()) {
    last_progress_ = clock_.now();
    arm_stall();
  }
  inflight_.emplace_back(p.packet_id, seq);
  ++counters_.sent;
  // The body goes from the journal's shared copy straight into the packet.
  send(
      mqtt::encode_publish(p, message.body ? std::string_view(*message.body) : std::string_view()));
  return PublishResult::sent;
}

void Session::on_puback(const mqtt::Puback& p) {
  const auto it = std::find_if(inflight_.begin(), inflight_.end(),
                               [id = p.packet_id](const auto& e) { return e.first == id; });
  if (it == inflight_.end()) return;  // a late ack of a packet we already gave up on
  const auto seq = it->second;
  inflight_.erase(it);
  ++counters_.acked;
  last_progress_ = clock_.now();
  observer_.acked(*this, seq);
  if (draining_ && inflight_.empty()) return quiescing_ ? stop() : finish_renewal();
  if (can_publish()) observer_.ready_to_send(*this);
}

void Session::on_publish(mqtt::Publish&& p) {
  auto in = classify_inbound(p.topic, settings_.identity);
  switch (in.kind) {
    case Inbound::Kind::c2d: {
      Downlink d;
      d.kind = Downlink::Kind::c2d;
      d.identity = settings_.identity;
      d.payload = std::move(p.payload);
      d.id = std::move(in.bag.message_id);
      d.properties = std::move(in.bag.application);
      d.expiry = std::move(in.bag.expiry);
      if (p.qos == 1) c2d_pending_.push_back({p.packet_id, false});
      auto complete = [this, alive = std::weak_ptr<int>(alive_), g = generation_, id = p.packet_id,
                       qos = p.qos](Settle settle) {
        if (qos != 1 || alive.expired()) return;
        if (settle == Settle::taken) return complete_c2d(g, id);
        abandon_c2d(g);
      };
      observer_.downlink(*this, std::move(d), std::move(complete));
      return;
    }
    case Inbound::Kind::method: {
      Downlink d;
      d.kind = Downlink::Kind::method;
      d.identity = settings_.identity;
      d.name = std::move(in.method);
      d.id = std::move(in.rid);
      d.payload = std::move(p.payload);
      observer_.downlink(*this, std::move(d), [](Settle) {});
      return;
    }
    case Inbound::Kind::twin_response:
      return on_twin_response(in, p.payload);
    case Inbound::Kind::desired:
      return on_desired(*in.version, std::move(p.payload));
    case Inbound::Kind::unknown:
      ++counters_.inbound_dropped;
      log_.warning({.event = "session.inbound_unknown", .identity = settings_.identity.client_id()},
                   "dropped a message on an unexpected topic: " + p.topic.substr(0, 200));
      if (p.qos == 1) {
        c2d_pending_.push_back({p.packet_id, true});
        complete_c2d(generation_, p.packet_id);
      }
      return;
  }
}

// PUBACKs go out in the order the messages arrived (MQTT-4.6.0-2; the hub enforces it), so a
// message that is durable waits for the ones before it.
void Session::complete_c2d(std::uint64_t generation, std::uint16_t packet_id) {
  if (generation != generation_ || !connection_) return;
  for (auto& pending : c2d_pending_) {
    if (pending.packet_id == packet_id) pending.durable = true;
  }
  while (!c2d_pending_.empty() && c2d_pending_.front().durable) {
    send(mqtt::encode(mqtt::Puback{c2d_pending_.front().packet_id}));
    c2d_pending_.pop_front();
  }
}

// Without its PUBACK the hub holds this message and every later one for the identity; only a
// new connection makes it deliver them again, so that is the way to give it back.
void Session::abandon_c2d(std::uint64_t generation) {
  if (generation != generation_ || !connection_) return;
  ++counters_.c2d_abandoned;
  fail("a C2D message could not be kept; reconnecting so the hub delivers it again", false);
}

void Session::start_desired_sync() {
  get_rid_ = next_rid();
  send(mqtt::encode(mqtt::Publish{twin_get_topic(get_rid_), "", 0, false, false, 0}));
  // QoS 0 both ways: a lost GET or answer is only noticed by its absence, so ask again.
  timers_->get.expires_after(settings_.request_timeout);
  timers_->get.async_wait(
      [this, alive = std::weak_ptr<int>(alive_), g = generation_](boost::system::error_code ec) {
        if (!ec && !alive.expired() && g == generation_ && !get_rid_.empty()) start_desired_sync();
      });
}

void Session::on_twin_response(const Inbound& in, const std::string& payload) {
  if (!get_rid_.empty() && in.rid == get_rid_) {
    get_rid_.clear();
    timers_->get.cancel();
    if (in.status != 200) {
      // Without the twin we could miss desired changes; reconnecting retries under backoff,
      // which is also the right answer to a 429.
      return fail("twin GET answered " + std::to_string(in.status), false);
    }
    const auto doc = nlohmann::json::parse(payload, nullptr, false);
    const auto* desired = doc.is_object() && doc.contains("desired") ? &doc["desired"] : nullptr;
    if (desired == nullptr || !desired->is_object() ||
        !(*desired)["$version"].is_number_integer()) {
      return fail("twin GET answered a document without desired.$version", false);
    }
    const auto version = (*desired)["$version"].get<std::int64_t>();
    if (!desired_version_ || version > *desired_version_) {
      deliver_desired(version, desired->dump(), true);
    }
    auto buffered = std::move(desired_buffer_);
    desired_buffer_.clear();
    for (auto& [v, body] : buffered)
      on_desired(v, std::move(body));
    return;
  }
  const auto it = reports_.find(in.rid);
  if (it == reports_.end()) return;  // an answer to a request we no longer wait for
  auto done = std::move(it->second.done);
  reports_.erase(it);
  done(in.status, in.version);
}

void Session::on_desired(std::int64_t version, std::string payload) {
  if (!get_rid_.empty()) {
    desired_buffer_.emplace_back(version, std::move(payload));
    return;
  }
  if (desired_version_ && version <= *desired_version_) return;  // already applied
  if (desired_version_ && version > *desired_version_ + 1) {
    // A patch in between was missed: the whole twin is the only safe source.
    return start_desired_sync();
  }
  deliver_desired(version, std::move(payload), false);
}

void Session::deliver_desired(std::int64_t version, std::string payload, bool full) {
  desired_version_ = version;
  Downlink d;
  d.kind = Downlink::Kind::desired;
  d.identity = settings_.identity;
  d.payload = std::move(payload);
  d.version = version;
  d.full_desired = full;
  observer_.downlink(*this, std::move(d), [](Settle) {});
}

void Session::respond_method(const std::string& rid, int status, const std::string& payload) {
  if (state_ != SessionState::online) return;  // the hub has answered the caller already
  send(mqtt::encode(mqtt::Publish{method_response_topic(status, rid),
                                  payload.empty() ? "null" : payload, 0, false, false, 0}));
}

void Session::report(const std::string& patch_json,
                     std::function<void(int, std::optional<std::int64_t>)> done) {
  if (state_ != SessionState::online) return done(503, std::nullopt);
  auto rid = next_rid();
  reports_[rid] = {std::move(done), clock_.now() + settings_.request_timeout};
  send(mqtt::encode(mqtt::Publish{twin_reported_topic(rid), patch_json, 0, false, false, 0}));
  arm_requests();
}

void Session::arm_requests() {
  if (reports_.empty()) return;
  auto earliest = reports_.begin()->second.deadline;
  for (const auto& [rid, r] : reports_)
    earliest = std::min(earliest, r.deadline);
  timers_->requests.expires_after(earliest - clock_.now());
  timers_->requests.async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](boost::system::error_code ec) {
        if (ec || alive.expired()) return;
        const auto now = clock_.now();
        for (auto it = reports_.begin(); it != reports_.end();) {
          if (it->second.deadline <= now) {
            auto done = std::move(it->second.done);
            it = reports_.erase(it);
            done(504, std::nullopt);
          } else {
            ++it;
          }
        }
        arm_requests();
      });
}

void Session::arm_keepalive() {
  timers_->keepalive.expires_after(settings_.keepalive);
  timers_->keepalive.async_wait(
      [this, alive = std::weak_ptr<int>(alive_), g = generation_](boost::system::error_code ec) {
        if (ec || alive.expired() || g != generation_ || state_ != SessionState::online) return;
        if (ping_outstanding_)
          return fail("no answer to keep-alive within " +
                          std::to_string(settings_.keepalive.count() / 1000) + "s",
                      false);
        ping_outstanding_ = true;
        send(mqtt::encode_pingreq());
        arm_keepalive();
      });
}

void Session::arm_stall() {
  timers_->stall.expires_at(last_progress_ + settings_.stall_timeout);
  timers_->stall.async_wait(
      [this, alive = std::weak_ptr<int>(alive_), g = generation_](boost::system::error_code ec) {
        if (ec || alive.expired() || g != generation_ || inflight_.empty()) return;
        if (clock_.now() - last_progress_ >= settings_.stall_timeout) {
          ++counters_.stalls;
          return fail("no PUBACK for " + std::to_string(settings_.stall_timeout.count() / 1000) +
                          "s with " + std::to_string(inflight_.size()) + " messages in flight",
                      false);
        }
        arm_stall();
      });
}

void Session::begin_renewal() {
  if (state_ != SessionState::online || quiescing_) return;
  draining_ = true;
  if (inflight_.empty()) return finish_renewal();
  // Bounded by what is left of the token's life, so the hub never closes us for expiry first.
  timers_->drain.expires_after(std::min({kDrainLimit, settings_.stall_timeout, token_life_ / 8}));
  timers_->drain.async_wait(
      [this, alive = std::weak_ptr<int>(alive_), g = generation_](boost::system::error_code ec) {
        if (!ec && !alive.expired() && g == generation_ && draining_ && !quiescing_)
          finish_renewal();
      });
}

// MQTT 3.1.1 cannot re-authenticate in place: a fresh token means a new connection (§2.5).
void Session::finish_renewal() {
  ++counters_.token_renewals;
  end_connection(true);
  set_state(SessionState::offline);
  observer_.want_connect(*this);
}

void Session::end_connection(bool graceful) {
  timers_->cancel_connection_timers();
  if (connection_) {
    if (graceful) {
      connection_->send(mqtt::encode_disconnect());
      connection_->finish();
    } else {
      connection_->close();
    }
    connection_.reset();
  }
  ++generation_;
  c2d_pending_.clear();  // unacknowledged C2D messages are redelivered by the hub
  get_rid_.clear();
  desired_buffer_.clear();
  ping_outstanding_ = false;
  draining_ = false;
  if (!inflight_.empty()) {
    std::uint64_t lowest = inflight_.begin()->second;
    for (const auto& [id, seq] : inflight_)
      lowest = std::min(lowest, seq);
    inflight_.clear();
    observer_.unacked_returned(*this, lowest);
  }
  auto reports = std::move(reports_);
  reports_.clear();
  for (auto& [rid, r] : reports)
    r.done(503, std::nullopt);
}

void Session::fail(const std::string& reason, bool credential) {
  if (state_ == SessionState::stopped) return;
  if (quiescing_) {  // stopping anyway: what was in flight is sent again after the restart
    end_connection(false);
    last_error_ = reason;
    return stop();
  }
  const bool was_online = state_ == SessionState::online;
  // Only a connection that lasted proves the hub takes us again: one the hub closes soon after
  // SUBACK (throttling) keeps backing off further instead of reconnecting at the first step.
  if (was_online && clock_.now() - online_at_ >= kStableConnection) backoff_.reset();
  end_connection(false);
  last_error_ = reason;
  credential_problem_ = credential;
  unreachable_ = !was_online && !credential;
  if (was_online) ++counters_.reconnects;
  const auto delay = backoff_.next(credential ? Backoff::kCredential : Backoff::kTransient);
  const auto id = settings_.identity.client_id();
  if (credential) {
    log_.error(
        {.event = "session.credential", .identity = id},
        id + ": " + reason + "; next attempt in " + std::to_string(delay.count() / 1000) + "s");
  } else {
    log_.warning({.event = "session.failed", .identity = id},
                 id + ": " + reason + "; reconnecting in " + std::to_string(delay.count()) + "ms");
  }
  set_state(SessionState::backoff);
  timers_->retry.expires_after(delay);
  timers_->retry.async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](boost::system::error_code ec) {
        if (!ec && !alive.expired() && state_ == SessionState::backoff)
          observer_.want_connect(*this);
      });
}

std::uint16_t Session::next_packet_id() {
  do {
    ++last_packet_id_;
  } while (last_packet_id_ == 0 ||
           std::any_of(inflight_.begin(), inflight_.end(),
                       [id = last_packet_id_](const auto& e) { return e.first == id; }));
  return last_packet_id_;
}

std::string Session::next_rid() {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(++rid_counter_));
  return buf;
}

void Session::describe(nlohmann::json& out) const {
  out = {{"identity", settings_.identity.client_id()},
         {"state", to_string(state_)},
         {"since", utc_iso8601(since_)},
         {"last_error", last_error_},
         {"credential_problem", credential_problem_},
         {"in_flight", inflight_.size()},
         {"sent", counters_.sent},
         {"acked", counters_.acked},
         {"connect_attempts", counters_.connect_attempts},
         {"reconnects", counters_.reconnects},
         {"token_renewals", counters_.token_renewals},
         {"stalls", counters_.stalls},
         {"write_backlogs", counters_.write_backlogs},
         {"c2d_abandoned", counters_.c2d_abandoned},
         {"refused_too_large", counters_.refused_too_large},
         {"inbound_dropped", counters_.inbound_dropped}};
}

}  // namespace fieldlink::hub
