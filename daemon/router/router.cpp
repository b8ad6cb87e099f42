#include "router/router.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "router/reading_encoder.hpp"

namespace fieldlink {

struct Router::PendingMethod {
  explicit PendingMethod(boost::asio::io_context& loop) : timer(loop) {}
  Answer answer;
  boost::asio::steady_timer timer;
};

namespace {

// Retries of a C2D message whose device is unreachable: 5 s, 10 s, 20 s … at most 5 min apart.
std::chrono::seconds retry_delay(std::uint32_t attempts) {
  return std::chrono::seconds(
      std::min<std::int64_t>(300, 5LL << std::min<std::uint32_t>(attempts, 6)));
}
constexpr auto kDueCheck = std::chrono::seconds(5);
constexpr std::size_t kDueBatch = 32;

// "2026-11-26T05:30:44Z" or with fractions, as the hub writes $.exp; nullopt if not that.
std::optional<std::chrono::system_clock::time_point> parse_utc(const std::string& text) {
  std::tm tm{};
  int year = 0;
  int month = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &year, &month, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec) != 6) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace

struct Router::Timers {
  explicit Timers(boost::asio::io_context& loop) : due(loop) {}
  boost::asio::steady_timer due;
};

Router::Router(boost::asio::io_context& loop, RouterSettings settings, TelemetryIntake& intake,
               CommandQueue& commands, hub::Upstream& upstream, SessionFactory sessions,
               GatewayActions actions, Logger& log, const Clock& clock, Rng& rng)
    : loop_(loop),
      settings_(std::move(settings)),
      intake_(intake),
      commands_(commands),
      upstream_(upstream),
      sessions_(std::move(sessions)),
      actions_(std::move(actions)),
      log_(log),
      clock_(clock) {
  // Message ids are unique across restarts without persisting a counter: a random prefix per
  // start, then a sequence.
  char prefix[20];
  std::snprintf(prefix, sizeof prefix, "%016llx", static_cast<unsigned long long>(rng.next()));
  id_prefix_ = prefix;
  timers_ = std::make_unique<Timers>(loop);
}

void Router::start() {
  deliver_due();
}

Router::~Router() = default;

void Router::set_identities(std::shared_ptr<const IdentityMap> identities) {
  identities_ = std::move(identities);
  known_.clear();
}

void Router::attach(Adapter& adapter) {
  adapters_[adapter.name().str()] = &adapter;
}

void Router::detach(const AdapterName& name) {
  adapters_.erase(name.str());
}

std::string Router::next_message_id() {
  return id_prefix_ + "-" + std::to_string(++id_counter_);
}

std::optional<Identity> Router::identity_for(const SourceAddress& source) {
  if (!settings_.gateway_mode && identities_) {
    if (const auto it = known_.find(source.str()); it != known_.end()) return it->second;
    if (auto b = identities_->resolve(source)) {
      known_.emplace(source.str(), b->identity);
      if (upstream_.find(b->identity) == nullptr) sessions_(source, *b);
      return b->identity;
    }
  }
  return fallback_identity();
}

std::optional<Identity> Router::fallback_identity() const {
  const auto gateway = Identity{DeviceId(settings_.gateway_identity), ModuleId()};
  if (settings_.gateway_mode) return gateway;
  if (settings_.unknown_sources == config::UnknownSources::gateway &&
      !settings_.gateway_identity.empty()) {
    return gateway;
  }
  return std::nullopt;
}

std::string Router::client_id_of(const std::string& source) const {
  const auto address = SourceAddress::parse(source);
  if (!settings_.gateway_mode && identities_ && address) {
    if (auto b = identities_->resolve(*address)) return b->identity.client_id();
  }
  const auto fallback = fallback_identity();
  return fallback ? fallback->client_id() : std::string();
}

Router::Result Router::push(Reading reading) {
  ++counters_.readings;
  const auto identity = identity_for(reading.source);
  // Only telemetry: presence statements (fieldlink.online) come from the adapter, not the device.
  auto* activity =
      reading.kind == ReadingKind::telemetry ? &activity_[reading.source.str()] : nullptr;
  if (!identity) {
    if (activity != nullptr) ++activity->dropped;
    ++counters_.unknown_source;
    log_.warning({.event = "router.unknown_source", .source = reading.source.str()},
                 "no identity is bound to " + reading.source.str() +
                     "; reading dropped (unknown_sources: reject)");
    return Result::accepted;  // refused by policy, not by pressure: nothing to retry
  }
  if (reading.kind == ReadingKind::reported) {
    report(*identity, reading);
    return Result::accepted;
  }
  Message m;
  m.identity = *identity;
  m.id = next_message_id();
  m.body = std::make_shared<const std::string>(encode_reading(reading));
  m.content_type = "application/json";
  m.content_encoding = "utf-8";
  m.created = reading.sampled_at;
  if (identity->device.str() == settings_.gateway_identity) {
    m.properties.emplace_back("fieldlink-source", reading.source.str());
  }
  if (!intake_.append(std::move(m))) {
    ++counters_.refused_by_store;
    return Result::backpressure;  // the adapter offers it again: not dropped
  }
  if (activity != nullptr) {
    ++activity->readings;
    activity->last_reading = reading.sampled_at;
  }
  return Result::accepted;
}

void Router::report(const Identity& identity, const Reading& reading) {
  ++counters_.reported;
  const auto patch = encode_reported(reading);
  auto* session = upstream_.find(identity);
  if (session == nullptr) {
    ++counters_.reported_failed;
    return;
  }
  session->report(patch, [this, id = identity.client_id()](int status, auto) {
    if (status == 204 || status == 200) return;
    ++counters_.reported_failed;
    log_.warning({.event = "router.reported_failed", .identity = id},
                 id + ": reported properties not accepted (" + std::to_string(status) + ")");
  });
}

void Router::respond(const Identity& identity, const std::string& rid, int status,
                     const nlohmann::json& payload) {
  if (auto* s = upstream_.find(identity)) s->respond_method(rid, status, payload.dump());
}

void Router::downlink(hub::Downlink d, hub::SettleDownlink complete) {
  Answer answer = [](int, const nlohmann::json&) {};  // a C2D message has no answer
  if (d.kind == hub::Downlink::Kind::method) {
    answer = [this, identity = d.identity, rid = d.id](int status, const nlohmann::json& payload) {
      respond(identity, rid, status, payload);
    };
  }
  route(std::move(d), std::move(complete), std::move(answer), settings_.method_timeout);
}

void Router::local_downlink(hub::Downlink d, std::optional<std::chrono::milliseconds> timeout,
                            LocalReply reply) {
  // Every path below answers once, but a C2D message without a device is answered 404 and then
  // settled (as the hub's would be): the flag keeps the settlement from answering again.
  auto once = [reply = std::move(reply), answered = std::make_shared<bool>(false)](
                  int status, const nlohmann::json& payload) {
    if (std::exchange(*answered, true)) return;
    reply(status, payload);
  };
  if (d.id.empty()) d.id = "local-" + next_message_id();
  hub::SettleDownlink complete = [](hub::Settle) {};
  if (d.kind == hub::Downlink::Kind::c2d) {
    complete = [once, mid = d.id](hub::Settle s) {
      if (s == hub::Settle::taken) return once(202, {{"queued", true}, {"message_id", mid}});
      once(503, {{"error", "the journal could not store the message; nothing was sent"}});
    };
  }
  route(std::move(d), std::move(complete), once, timeout.value_or(settings_.method_timeout));
}

void Router::route(hub::Downlink d, hub::SettleDownlink complete, Answer answer,
                   std::chrono::milliseconds method_timeout) {
  const bool to_gateway = d.identity.device.str() == settings_.gateway_identity;
  if (to_gateway && d.kind == hub::Downlink::Kind::method) {
    gateway_method(d, answer);
    return complete(hub::Settle::taken);
  }
  std::optional<SourceAddress> target;
  if (to_gateway && d.kind == hub::Downlink::Kind::c2d) {
    // In gateway mode the target device travels as a property.
    for (const auto& [k, v] : d.properties) {
      if (k == "fieldlink-target") target = SourceAddress::parse(v);
    }
  } else if (identities_) {
    target = identities_->source_of(d.identity);
  }
  Adapter* adapter = nullptr;
  if (target) {
    const auto it = adapters_.find(target->adapter());
    if (it != adapters_.end()) adapter = it->second;
  }
  const auto id = d.identity.client_id();
  switch (d.kind) {
    case hub::Downlink::Kind::method:
      ++counters_.methods;
      if (adapter == nullptr) {
        answer(404, {{"error", target ? "no adapter '" + std::string(target->adapter()) + "' for " +
                                            target->str()
                                      : "no device is bound to identity " + id}});
        return complete(hub::Settle::taken);
      }
      run_method(std::move(d), *adapter, *target, std::move(answer), method_timeout);
      return complete(hub::Settle::taken);
    case hub::Downlink::Kind::desired: {
      ++counters_.desired;
      if (adapter == nullptr) return complete(hub::Settle::taken);
      Command c{Command::Kind::desired,
                *target,
                {},
                d.payload,
                {},
                {},
                clock_.now() + settings_.method_timeout};
      adapter->execute(c, [this, identity = d.identity](Outcome o) {
        if (!o.ok()) {
          log_.warning({.event = "router.desired_failed", .identity = identity.client_id()},
                       "desired properties not applied: " + o.payload);
          return;
        }
        if (o.payload.empty() || o.payload == "null") return;
        if (auto* s = upstream_.find(identity)) s->report(o.payload, [](int, auto) {});
      });
      return complete(hub::Settle::taken);
    }
    case hub::Downlink::Kind::c2d: {
      ++counters_.c2d;
      if (!target) {
        ++counters_.c2d_undeliverable;
        log_.warning({.event = "router.c2d_undeliverable", .identity = id},
                     "C2D message " + d.id + " for " + id + " has no device to go to; dropped");
        answer(404, {{"error", "no device is bound to identity " + id}});
        return complete(hub::Settle::taken);
      }
      return queue_c2d(std::move(d), *target, std::move(complete));
    }
  }
}

void Router::queue_c2d(hub::Downlink d, const SourceAddress& target, hub::SettleDownlink complete) {
  const auto expires = parse_utc(d.expiry).value_or(clock_.wall_now() + settings_.c2d_life);
  Command c{Command::Kind::c2d,      target, {}, std::move(d.payload),
            std::move(d.properties), d.id,   {}};
  commands_.put(std::move(c), expires,
                [this, complete = std::move(complete), id = d.identity.client_id(), mid = d.id](
                    std::int64_t stored, const std::string& error) {
                  if (stored == 0) {
                    log_.error({.event = "router.c2d_not_stored", .identity = id},
                               "C2D message " + mid + " could not be stored (" + error +
                                   "); not acknowledged, the hub will deliver it again");
                    return complete(hub::Settle::abandoned);
                  }
                  complete(hub::Settle::taken);
                  deliver_due();
                });
}

void Router::deliver_due() {
  timers_->due.expires_after(kDueCheck);
  timers_->due.async_wait([this](boost::system::error_code ec) {
    if (!ec) deliver_due();
  });
  const auto question = ++due_asked_;
  commands_.due(kDueBatch, [this, question](std::vector<QueuedCommand> due) {
    for (auto& q : due) {
      const auto s = settled_.find(q.id);
      if (s != settled_.end() && question <= s->second) continue;  // answered before it settled
      if (delivering_.insert(q.id).second) deliver(std::move(q));
    }
    // Answers arrive in the order asked: no later answer can predate these settlements.
    std::erase_if(settled_, [question](const auto& entry) { return entry.second <= question; });
  });
}

void Router::settle(std::int64_t id,
                    std::optional<std::chrono::system_clock::time_point> retry_at) {
  delivering_.erase(id);
  settled_[id] = due_asked_;
  if (retry_at) {
    ++counters_.c2d_retries;
    commands_.attempted(id, *retry_at);
  } else {
    commands_.done(id);
  }
}

void Router::deliver(QueuedCommand queued) {
  const auto it = adapters_.find(queued.command.target.adapter());
  const auto id = queued.id;
  const auto retry_at = clock_.wall_now() + retry_delay(queued.attempts);
  if (it == adapters_.end()) return settle(id, retry_at);
  queued.command.deadline = clock_.now() + settings_.method_timeout;
  it->second->execute(queued.command,
                      [this, id, retry_at, mid = queued.command.request_id](Outcome o) {
                        // Unreachable (404, 503, 504) is worth another try; anything else is
                        // the device's answer.
                        if (o.status == 404 || o.status == 503 || o.status == 504) {
                          return settle(id, retry_at);
                        }
                        settle(id, std::nullopt);
                        if (o.ok()) {
                          ++counters_.c2d_delivered;
                        } else {
                          ++counters_.c2d_undeliverable;
                          log_.warning({.event = "router.c2d_refused"},
                                       "C2D message " + mid + " refused by the device (" +
                                           std::to_string(o.status) + "): " + o.payload);
                        }
                      });
}

void Router::run_method(hub::Downlink d, Adapter& adapter, const SourceAddress& target,
                        Answer answer, std::chrono::milliseconds timeout) {
  const auto key = ++next_method_;
  auto pending = std::make_unique<PendingMethod>(loop_);
  pending->answer = std::move(answer);
  pending->timer.expires_after(timeout);
  pending->timer.async_wait([this, key, timeout](boost::system::error_code ec) {
    if (ec) return;
    const auto it = methods_.find(key);
    if (it == methods_.end()) return;
    ++counters_.method_timeouts;
    it->second->answer(
        504, {{"error", "the device did not answer within " + config::format_duration(timeout)}});
    methods_.erase(it);
  });
  methods_.emplace(key, std::move(pending));
  Command c{Command::Kind::method, target, std::move(d.name), std::move(d.payload), {}, d.id,
            clock_.now() + timeout};
  adapter.execute(c, [this, key](Outcome o) {
    const auto it = methods_.find(key);
    if (it == methods_.end()) return;  // answered 504 already; the hub has moved on
    auto payload = nlohmann::json::parse(o.payload.empty() ? "null" : o.payload, nullptr, false);
    // The hub refuses a non-JSON answer (502101): wrap text as a JSON string.
    if (payload.is_discarded()) payload = o.payload;
    it->second->answer(o.status, payload);
    it->second->timer.cancel();
    methods_.erase(it);
  });
}

void Router::gateway_method(const hub::Downlink& d, const Answer& answer) {
  if (d.name == "ping") return answer(200, {{"pong", true}, {"gateway", settings_.gateway_name}});
  if (d.name == "status" && actions_.status) return answer(200, actions_.status());
  if (d.name == "reload" && actions_.reload) {
    actions_.reload();
    return answer(200, {{"reloading", true}});
  }
  answer(404,
         {{"error", "unknown method '" + d.name + "'; the gateway answers ping, status, reload"}});
}

void Router::describe(nlohmann::json& status) const {
  DeviceList devices;
  for (const auto& [name, adapter] : adapters_) {
    nlohmann::json section = nlohmann::json::object();
    adapter->describe(section);
    devices.add_adapter(name, section);
  }
  for (const auto& [source, activity] : activity_) {
    const auto address = SourceAddress::parse(source);
    devices.add_activity(source, address ? std::string(address->adapter()) : std::string(),
                         activity);
  }
  status["devices"] = devices.to_json([this](const std::string& s) { return client_id_of(s); });
  status["router"] = {{"readings", counters_.readings},
                      {"unknown_source", counters_.unknown_source},
                      {"refused_by_store", counters_.refused_by_store},
                      {"methods", counters_.methods},
                      {"method_timeouts", counters_.method_timeouts},
                      {"c2d", counters_.c2d},
                      {"c2d_undeliverable", counters_.c2d_undeliverable},
                      {"c2d_delivered", counters_.c2d_delivered},
                      {"c2d_retries", counters_.c2d_retries},
                      {"desired", counters_.desired},
                      {"reported", counters_.reported},
                      {"reported_failed", counters_.reported_failed}};
}

void Router::collect(MetricsWriter& m) const {
  m.counter("fieldlink_readings_total", "Readings received from adapters.",
            static_cast<double>(counters_.readings));
  m.counter("fieldlink_readings_dropped_total", "Readings not stored, by reason.",
            static_cast<double>(counters_.unknown_source), {{"reason", "unknown_source"}});
  m.counter("fieldlink_readings_dropped_total", "Readings not stored, by reason.",
            static_cast<double>(counters_.refused_by_store), {{"reason", "store_refused"}});
  m.counter("fieldlink_methods_total", "Direct methods routed to devices.",
            static_cast<double>(counters_.methods));
  m.counter("fieldlink_method_timeouts_total", "Direct methods answered 504.",
            static_cast<double>(counters_.method_timeouts));
  m.counter("fieldlink_c2d_total", "C2D messages received.", static_cast<double>(counters_.c2d));
  m.counter("fieldlink_c2d_undeliverable_total", "C2D messages no device took.",
            static_cast<double>(counters_.c2d_undeliverable));
}

void Router::health(std::vector<std::string>&) const {}

}  // namespace fieldlink
