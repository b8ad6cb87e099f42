#include "adapters/mqtt/mqtt_adapter.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <fstream>

#include "adapters/mqtt/payload_decoder.hpp"

namespace fieldlink::mqtt {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr auto kDefaultCommandTimeout = 30s;  // for commands that come without a deadline
constexpr auto kLogInterval = 60s;            // per device and event kind

std::string error_json(std::string_view why) {
  return json{{"error", why}}.dump();
}

bool valid_level(std::string_view s) {
  return !s.empty() && s.find_first_of("/+#") == std::string_view::npos;
}

}  // namespace

struct MqttAdapter::Timer {
  explicit Timer(boost::asio::io_context& loop) : timer(loop) {}
  boost::asio::steady_timer timer;
};

struct MqttAdapter::Pending {
  OutcomeHandler handler;
  std::unique_ptr<Timer> deadline;
  std::string device;
  std::string method;
};

MqttAdapter::MqttAdapter(AdapterContext context, std::shared_ptr<const MqttSettings> settings,
                         ClientFactory make_client)
    : context_(std::move(context)),
      settings_(std::move(settings)),
      make_client_(std::move(make_client)),
      devices_(settings_->offline_after) {
  broker_text_ = settings_->socket.path.empty()
                     ? settings_->host + ":" + std::to_string(settings_->port)
                     : "unix:" + settings_->socket.path;
  for (const auto& route : settings_->topics)
    subscriptions_.push_back(route.filter->str());
  if (settings_->method_topic) {
    // <method_topic>/<rid>/res[/<status>]; the template's placeholders fill whole levels
    // (checked at parse), so each is one `+` and comes back as one capture.
    answer_filter_ = TopicFilter::parse(settings_->method_topic->as_filter() + "/+/res/#");
    const auto method_level = settings_->method_topic->whole_level("method");
    device_before_method_ =
        !method_level || *settings_->method_topic->whole_level("device") < *method_level;
    subscriptions_.push_back(answer_filter_->str());
  }
  if (settings_->reported_topic) {
    reported_filter_ = TopicFilter::parse(settings_->reported_topic->as_filter());
    subscriptions_.push_back(reported_filter_->str());
  }
}

MqttAdapter::~MqttAdapter() {
  if (client_) client_->stop();
}

// Through the same inbox as the messages, so the loop sees events in the order they happened
// (a disconnect's log line does not come after the next connection's messages).
template <class F>
void MqttAdapter::on_loop(F&& work) {
  hand_over(Handover{.work = std::forward<F>(work)});
}

void MqttAdapter::hand_over(Handover item) {
  bool first;
  {
    std::lock_guard lock(inbox_mutex_);
    first = inbox_.empty();
    inbox_.push_back(std::move(item));
  }
  // A non-empty inbox has a take_inbox posted that has not taken it yet.
  if (first) {
    boost::asio::post(context_.loop, [this, life = std::weak_ptr<int>(life_)] {
      if (life.lock()) take_inbox();
    });
  }
}

void MqttAdapter::start() {
  const auto& s = *settings_;
  BrokerEndpoint endpoint;
  endpoint.host = s.host;
  endpoint.port = static_cast<int>(s.port);
  endpoint.unix_socket = s.socket.path;
  endpoint.client_id = s.client_id;
  endpoint.keepalive = std::chrono::duration_cast<std::chrono::seconds>(s.keepalive);
  endpoint.tls = s.tls;
  endpoint.ca_file = s.ca_file.path;
  endpoint.username = s.username;
  endpoint.reconnect_min = std::chrono::duration_cast<std::chrono::seconds>(s.reconnect_min);
  endpoint.reconnect_max = std::chrono::duration_cast<std::chrono::seconds>(s.reconnect_max);
  const LogFields fields{"mqtt.start", name().str(), {}, {}};
  if (!s.password_file.path.empty()) {
    std::ifstream in(s.password_file.path);
    if (!in || !std::getline(in, endpoint.password)) {
      // The path is named, the content never is.
      context_.log.error(fields, "cannot read password_file " + s.password_file.path);
      return;
    }
    if (!endpoint.password.empty() && endpoint.password.back() == '\r')
      endpoint.password.pop_back();
  }
  client_ = make_client_(std::move(endpoint));
  BrokerClient::Events events;
  events.connected = [this](bool accepted, bool session_present, const std::string& why) {
    on_connected(accepted, session_present, why);
  };
  events.disconnected = [this](const std::string& why) {
    on_loop([this, why] {
      const bool was = connected_;
      connected_ = false;
      if (was) ++disconnects_;
      if (log_allowed("disconnected")) {
        context_.log.warning(
            {"mqtt.disconnected", name().str(), {}, {}},
            "lost the local broker " + broker_text_ + ": " + why + "; reconnecting");
      }
    });
  };
  events.message = [this](const InboundMessage& m) { on_message(m); };
  // PUBACK once the journal has what the message pushed (broker_client.hpp).
  events.hold = [this] { return context_.sink.mark(); };
  events.durable = [this] { return context_.sink.durable(); };
  events.hurry = [this] { context_.sink.hurry(); };
  durable_watch_ = context_.sink.watch_durable([this] { client_->acks_released(); });
  events.published = [this](int mid) {
    on_loop([this, mid] { complete(publishes_, std::to_string(mid), Outcome{200, "{}"}); });
  };
  if (auto status = client_->start(std::move(events)); !status.ok()) {
    context_.log.error(fields, "cannot start the client for " + broker_text_ + ": " + status.text);
    return;
  }
  presence_timer_ = std::make_unique<Timer>(context_.loop);
  arm_presence_timer();
}

void MqttAdapter::stop(std::function<void()> done) {
  stopped_ = true;
  if (presence_timer_) presence_timer_->timer.cancel();
  // Joins the network thread: a clean DISCONNECT, then no more callbacks into this object.
  if (client_) client_->stop();
  durable_watch_.reset();
  for (auto* table : {&methods_, &publishes_}) {
    while (!table->empty()) {
      complete(*table, table->begin()->first, Outcome{504, error_json("adapter stopped")});
    }
  }
  boost::asio::post(context_.loop, std::move(done));
}

// ---- network thread -------------------------------------------------------------------------

void MqttAdapter::on_connected(bool accepted, bool session_present, const std::string& why) {
  if (accepted) {
    fresh_session_ = !session_present;
    refusing_ = false;
    // Subscribing again on every connect is harmless (the broker replaces the subscription) and
    // covers a broker that lost its persistence or a config that gained a filter.
    const auto status = client_->subscribe(subscriptions_);
    on_loop([this, session_present, status] {
      connected_ = true;
      ++connects_;
      context_.log.info({"mqtt.connected", name().str(), {}, {}},
                        "connected to the local broker " + broker_text_ +
                            (session_present ? " (session resumed)" : " (new session)"));
      if (!status.ok()) {
        context_.log.error({"mqtt.subscribe_failed", name().str(), {}, {}},
                           "cannot subscribe: " + status.text);
      }
    });
    return;
  }
  on_loop([this, why] {
    if (log_allowed("refused")) {
      context_.log.error({"mqtt.refused", name().str(), {}, {}},
                         "the local broker " + broker_text_ + " refused the connection: " + why);
    }
  });
}

void MqttAdapter::on_message(const InboundMessage& m) {
  // After a refused push the connection is being cut: nothing of it is acknowledged, so the
  // broker sends these again after the reconnect.
  if (refusing_) return;
  if (m.payload.size() > settings_->max_payload.bytes) return skip_too_large(m);
  if (answer_filter_ && method_answer(m)) return;
  // A retained message arrives when a subscription is made. With a resumed session we have
  // seen it before; with a fresh one it may be news, so it is taken.
  if (m.retained && !fresh_session_) {
    ++retained_skipped_;
    return;
  }
  if (reported_filter_) {
    if (auto caps = reported_filter_->match(m.topic)) {
      const auto key = std::string(caps->front());
      auto decoded = decode_json_object(m.payload);
      if (!decoded.ok() || !valid_device_key(key)) {
        reject(key, m.topic, decoded.ok() ? "not a valid device key" : decoded.error);
        return;
      }
      deliver(key, std::move(decoded.values), ReadingKind::reported);
      return;
    }
  }
  for (const auto& route : settings_->topics) {
    auto caps = route.filter->match(m.topic);
    if (!caps) continue;
    auto decoded = decode_payload(route, m.payload);
    auto key = route.device ? route.device->expand([&](std::string_view n) {
      size_t i = 0;
      std::from_chars(n.data(), n.data() + n.size(), i);
      return i >= 1 && i <= caps->size() ? (*caps)[i - 1] : std::string_view{};
    })
                            : decoded.device_key;
    if (!decoded.ok()) {
      reject(key, m.topic, decoded.error);
    } else if (!valid_device_key(key)) {
      reject({}, m.topic, "the device key '" + key + "' is not valid");
    } else {
      deliver(key, std::move(decoded.values), ReadingKind::telemetry);
    }
    return;
  }
  ++unmatched_;
}

void MqttAdapter::deliver(const std::string& key, std::vector<std::pair<std::string, Value>> values,
                          ReadingKind kind) {
  Reading reading{SourceAddress::make("mqtt", name(), key), context_.clock.wall_now(),
                  std::move(values), Quality::good, kind};
  if (context_.sink.push(std::move(reading)) == ReadingSink::Result::backpressure) {
    refusing_ = true;
    ++backpressure_;
    client_->cut();
    on_loop([this] {
      if (log_allowed("backpressure")) {
        context_.log.warning({"mqtt.backpressure", name().str(), {}, {}},
                             "the journal refused a reading; pausing the local broker session "
                             "(the broker keeps the unacknowledged messages)");
      }
    });
    return;
  }
  ++readings_;
  hand_over(Handover{.key = key, .reported = kind == ReadingKind::reported});
}

void MqttAdapter::reject(const std::string& key, std::string_view topic, std::string why) {
  // A key that is not valid cannot name a device; such messages are counted for the adapter.
  hand_over(Handover{.key = valid_device_key(key) ? key : std::string{},
                     .valid = false,
                     .why = std::string(topic) + ": " + why});
}

// The client has already read the whole payload (the broker's message_size_limit bounds that);
// this bounds what is decoded, journaled and sent on. Counted as an invalid message of the device
// the topic names, so an operator sees whose payloads are too big.
void MqttAdapter::skip_too_large(const InboundMessage& m) {
  ++too_large_;
  reject(topic_device_key(m.topic), m.topic,
         "too_large: " + std::to_string(m.payload.size()) + " bytes, over max_payload " +
             config::format_size(settings_->max_payload));
}

// The device key a topic alone names, without decoding the payload; "" when only the payload
// (device_field) names it or no topic route matches.
std::string MqttAdapter::topic_device_key(std::string_view topic) const {
  const auto level = [](const std::vector<std::string_view>& caps, std::string_view n) {
    size_t i = 0;
    std::from_chars(n.data(), n.data() + n.size(), i);
    return i >= 1 && i <= caps.size() ? caps[i - 1] : std::string_view{};
  };
  if (reported_filter_) {
    if (auto caps = reported_filter_->match(topic)) return std::string(caps->front());
  }
  for (const auto& route : settings_->topics) {
    const auto caps = route.filter->match(topic);
    if (!caps) continue;
    if (!route.device) return {};
    return route.device->expand([&](std::string_view n) { return level(*caps, n); });
  }
  return {};
}

bool MqttAdapter::method_answer(const InboundMessage& m) {
  auto caps = answer_filter_->match(m.topic);
  if (!caps) return false;
  // Captures: device and method (in topic order), the request id, then what follows `res`.
  const size_t n = caps->size();
  const auto rid = std::string((*caps)[n - 2]);
  const auto rest = (*caps)[n - 1];
  const bool has_method = settings_->method_topic->uses("method");
  const auto device = std::string((*caps)[has_method && !device_before_method_ ? 1 : 0]);
  const auto method =
      has_method ? std::string((*caps)[device_before_method_ ? 1 : 0]) : std::string{};
  int status = 200;
  if (!rest.empty()) {
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), status);
    if (ec != std::errc{} || p != rest.data() + rest.size() || status < 100 || status > 599) {
      reject(device, m.topic, "the answer status is not a number from 100 to 599");
      return true;
    }
  }
  std::string payload(m.payload);
  if (payload.empty()) payload = "null";
  if (!json::accept(payload)) {
    status = 502;
    payload = error_json("the device answered with a body that is not JSON");
  }
  on_loop([this, rid, device, method, status, payload = std::move(payload)] {
    const auto it = methods_.find(rid);
    // An answer to a request we no longer wait for (late, or for another device) is dropped.
    if (it == methods_.end() || it->second.device != device ||
        (!method.empty() && it->second.method != method)) {
      return;
    }
    devices_.seen(device, context_.clock.now(), context_.clock.wall_now(), true);
    complete(methods_, rid, Outcome{status, payload});
  });
  return true;
}

// ---- core loop ------------------------------------------------------------------------------

void MqttAdapter::take_inbox() {
  {
    std::lock_guard lock(inbox_mutex_);
    taking_.swap(inbox_);
  }
  // Presence is reported once per run of messages rather than after each: within a run it only
  // turns online, so the readings are the same. Work that follows a run sees it reported; work
  // alone (a method answer marks its device seen) leaves it to the presence tick.
  bool observed = false;
  for (auto& item : taking_) {
    if (!item.work) {
      observe(item.key, item.valid, item.reported, item.why);
      observed = true;
      continue;
    }
    if (std::exchange(observed, false)) flush_presence();
    item.work();
  }
  taking_.clear();  // keeps its capacity for the next batch
  if (observed) flush_presence();
}

void MqttAdapter::observe(const std::string& key, bool valid, bool reported,
                          const std::string& why) {
  if (key.empty()) {
    ++unattributed_invalid_;
    if (log_allowed("unattributed")) {
      context_.log.warning({"mqtt.invalid_payload", name().str(), {}, {}},
                           "skipped a message of no known device: " + why);
    }
    return;
  }
  devices_.seen(key, context_.clock.now(), context_.clock.wall_now(), valid);
  if (reported && valid) devices_.reported(key);
  if (!valid) {
    const auto source = SourceAddress::make("mqtt", name(), key);
    if (log_allowed("invalid:" + key)) {
      context_.log.warning({"mqtt.invalid_payload", name().str(), source.str(), {}},
                           "skipped an invalid payload on " + why);
    }
  }
}

void MqttAdapter::flush_presence() {
  for (const auto& [key, online] : devices_.unreported_presence()) {
    const auto source = SourceAddress::make("mqtt", name(), key);
    Reading reading{source,
                    context_.clock.wall_now(),
                    {{"fieldlink.online", online}},
                    Quality::good,
                    ReadingKind::reported};
    // Refused: try again at the next tick; the state to report does not get lost.
    if (context_.sink.push(std::move(reading)) == ReadingSink::Result::backpressure) return;
    devices_.presence_reported(key, online);
    if (!online) {
      context_.log.notice({"mqtt.device_offline", name().str(), source.str(), {}},
                          "device unseen for " + config::format_duration(settings_->offline_after) +
                              "; reported offline");
    }
  }
}

void MqttAdapter::arm_presence_timer() {
  // Often enough that offline is reported within a quarter of offline_after.
  const auto period = std::clamp<std::chrono::milliseconds>(settings_->offline_after / 4, 50ms, 5s);
  presence_timer_->timer.expires_after(period);
  presence_timer_->timer.async_wait(
      [this, life = std::weak_ptr<int>(life_)](const boost::system::error_code& ec) {
        if (ec || !life.lock() || stopped_) return;
        devices_.expire(context_.clock.now());
        flush_presence();
        arm_presence_timer();
      });
}

void MqttAdapter::execute(const Command& command, OutcomeHandler handler) {
  auto answer = [this, &handler](int status, std::string_view why) {
    boost::asio::post(context_.loop,
                      [h = std::move(handler), o = Outcome{status, error_json(why)}] { h(o); });
  };
  const auto key = std::string(command.target.device_key());
  if (command.target.scheme() != "mqtt" || command.target.adapter() != name().str() ||
      !valid_device_key(key)) {
    return answer(404, "not a device of adapter " + name().str());
  }
  if (stopped_ || !client_) return answer(502, "the adapter is not running");
  const auto deadline = command.deadline == std::chrono::steady_clock::time_point{}
                            ? context_.clock.now() + kDefaultCommandTimeout
                            : command.deadline;
  const std::optional<TopicTemplate>* tpl = nullptr;
  switch (command.kind) {
    case Command::Kind::c2d:
      tpl = &settings_->c2d_topic;
      break;
    case Command::Kind::desired:
      tpl = &settings_->desired_topic;
      break;
    case Command::Kind::method:
      tpl = &settings_->method_topic;
      break;
  }
  if (!*tpl) return answer(404, "this adapter has no topic for that kind of command");

  if (command.kind != Command::Kind::method) {
    const auto topic = (*tpl)->expand([&](std::string_view) { return std::string_view(key); });
    int mid = 0;
    if (auto status = client_->publish(topic, command.payload, mid); !status.ok()) {
      return answer(502, "cannot publish to the local broker: " + status.text);
    }
    const auto id = std::to_string(mid);
    publishes_[id] = Pending{std::move(handler), nullptr, key, {}};
    return watch_deadline(publishes_, id, deadline);
  }

  if (devices_.online(key) == false) return answer(404, "device " + key + " is offline");
  if (!valid_level(command.name)) return answer(400, "the method name cannot be a topic level");
  // The hub's request id names the request on the local topic when it can; otherwise (or if it
  // is already waiting) a local one does.
  auto rid = command.request_id;
  if (!valid_level(rid) || methods_.contains(rid)) {
    do {
      rid = "fl" + std::to_string(next_request_++);
    } while (methods_.contains(rid));
  }
  const auto topic = (*tpl)->expand([&](std::string_view n) {
    return n == "device" ? std::string_view(key) : std::string_view(command.name);
  }) + "/" + rid;
  int mid = 0;
  if (auto status =
          client_->publish(topic, command.payload.empty() ? "null" : command.payload, mid);
      !status.ok()) {
    return answer(502, "cannot publish to the local broker: " + status.text);
  }
  methods_[rid] = Pending{std::move(handler), nullptr, key, command.name};
  watch_deadline(methods_, rid, deadline);
}

void MqttAdapter::watch_deadline(std::map<std::string, Pending>& table, const std::string& id,
                                 std::chrono::steady_clock::time_point deadline) {
  auto& pending = table.at(id);
  pending.deadline = std::make_unique<Timer>(context_.loop);
  const auto left =
      std::max(deadline - context_.clock.now(), std::chrono::steady_clock::duration{});
  pending.deadline->timer.expires_after(left);
  pending.deadline->timer.async_wait(
      [this, &table, id, life = std::weak_ptr<int>(life_)](const boost::system::error_code& ec) {
        if (ec || !life.lock()) return;
        complete(table, id, Outcome{504, error_json("the device did not answer in time")});
      });
}

void MqttAdapter::complete(std::map<std::string, Pending>& table, const std::string& id,
                           Outcome outcome) {
  const auto it = table.find(id);
  if (it == table.end()) return;
  auto pending = std::move(it->second);
  table.erase(it);
  if (pending.deadline) pending.deadline->timer.cancel();
  pending.handler(std::move(outcome));
}

bool MqttAdapter::log_allowed(const std::string& gate_key) {
  const auto now = context_.clock.now();
  auto& [next, suppressed] = log_gates_[gate_key];
  if (now < next) {
    ++suppressed;
    return false;
  }
  next = now + kLogInterval;
  suppressed = 0;
  return true;
}

void MqttAdapter::describe(json& out) const {
  json devices;
  devices_.describe(devices);
  out = {{"type", "mqtt"},
         {"broker", broker_text_},
         {"connected", connected_},
         {"connects", connects_},
         {"disconnects", disconnects_},
         {"readings", readings_.load()},
         {"unattributed_invalid", unattributed_invalid_},
         {"too_large", too_large_.load()},
         {"unmatched", unmatched_.load()},
         {"backpressure", backpressure_.load()},
         {"retained_skipped", retained_skipped_.load()},
         {"methods_pending", methods_.size()},
         {"devices", std::move(devices)}};
}

}  // namespace fieldlink::mqtt
