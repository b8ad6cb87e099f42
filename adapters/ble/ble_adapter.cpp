#include "adapters/ble/ble_adapter.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "adapters/ble/reconnect_backoff.hpp"
#include "adapters/ble/sdbus_bluez_link.hpp"
#include "adapters/builtin.hpp"
#include "core/utc_time.hpp"

namespace fieldlink::ble {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using nlohmann::json;
using Ms = std::chrono::milliseconds;

namespace {

constexpr auto kDiscoveryRetry = 5s;

json value_json(const Value& v) {
  return std::visit([](const auto& x) { return json(x); }, v);
}

Outcome outcome(int status, const std::string& message) {
  return {status, json{{"status", status}, {"message", message}}.dump()};
}

// A BlueZ error as the method's answer: 504 when the device did not answer in time, else 502;
// the D-Bus error name travels in the payload so the operator can tell NotPermitted from Failed.
Outcome bluez_failure(const BluezResult& r, const std::string& characteristic) {
  const int status = r.timed_out() ? 504 : 502;
  return {status, json{{"status", status},
                       {"characteristic", characteristic},
                       {"error", r.error_name},
                       {"message", r.error_message}}
                      .dump()};
}

bool has(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

class BleAdapter::Core final : public BluezEvents, public std::enable_shared_from_this<Core> {
 public:
  Core(AdapterContext ctx, std::shared_ptr<const BleSettings> settings, BluezLink& link, Rng& rng)
      : ctx_(std::move(ctx)),
        settings_(std::move(settings)),
        link_(link),
        rng_(rng),
        backoff_(settings_->backoff_initial, settings_->backoff_max),
        controller_path_("/org/bluez/" + settings_->controller),
        discovery_timer_(ctx_.loop) {
    for (const auto& d : settings_->devices) {
      if (!d.mac.empty()) add_device(d, d.mac);
    }
    for (const auto& a : settings_->advertisers) {
      if (a.mac != "*") adverts_.emplace(a.mac, Advert{source_of(a.mac), &a});
    }
  }

  void stop() {
    stopping_ = true;
    discovery_timer_.cancel();
    for (auto& d : devices_)
      d->cancel_timers();
    // Commands still waiting for BlueZ are answered now: the link drops their replies.
    for (auto& w : open_commands_) {
      if (auto a = w.lock(); a && !a->answered) {
        a->answered = true;
        a->handler(outcome(503, "the adapter is stopping"));
      }
    }
    open_commands_.clear();
  }

  // Wraps a command's handler so it runs exactly once, and can be answered at stop().
  OutcomeHandler once(OutcomeHandler handler) {
    auto a = std::make_shared<OpenCommand>();
    a->handler = std::move(handler);
    std::erase_if(open_commands_, [](const auto& w) { return w.expired(); });
    open_commands_.push_back(a);
    return [a](Outcome o) {
      if (a->answered) return;
      a->answered = true;
      a->handler(std::move(o));
    };
  }

  void execute(const Command& command, OutcomeHandler handler);
  void describe(json& out) const;

  // BluezEvents
  void bluez_up() override {
    bluez_up_ = true;
    bluez_message_ = "connected to BlueZ";
    ctx_.log.info(fields("ble.bluez_up"), bluez_message_);
  }

  void bluez_down(const std::string& why) override {
    const bool was = bluez_up_;
    bluez_up_ = false;
    bluez_message_ = why;
    if (was || !down_logged_) ctx_.log.warning(fields("ble.bluez_down"), why);
    down_logged_ = true;
    dev_objects_.clear();
    services_.clear();
    chars_.clear();
    controller_present_ = false;
    powered_ = false;
    controller_gone(why);
  }

  void interface_added(const std::string& path, BluezInterface iface, const BluezProps& p,
                       bool snapshot) override {
    switch (iface) {
      case BluezInterface::adapter:
        if (path != controller_path_) return;
        controller_present_ = true;
        powered_ = p.powered.value_or(false);
        ctx_.log.notice(fields("ble.controller_added"),
                        settings_->controller + (powered_ ? " present" : " present, powered off"));
        if (!powered_) controller_gone(settings_->controller + " is powered off");
        evaluate();
        return;
      case BluezInterface::device: {
        auto& o = dev_objects_[path];
        merge(o, p);
        device_seen(path, o, p, snapshot);
        return;
      }
      case BluezInterface::service:
        services_[path] = {p.uuid.value_or(""), p.owner.value_or("")};
        return;
      case BluezInterface::characteristic:
        chars_[path] = {lower(p.uuid.value_or("")), p.owner.value_or(""),
                        p.flags.value_or(std::vector<std::string>{})};
        return;
    }
  }

  void interface_removed(const std::string& path, BluezInterface iface) override {
    switch (iface) {
      case BluezInterface::adapter:
        if (path != controller_path_) return;
        controller_present_ = false;
        powered_ = false;
        discovering_ = false;
        ctx_.log.warning(fields("ble.controller_removed"), settings_->controller + " removed");
        // BlueZ drops the controller's device objects with it, whether or not it says so.
        for (auto it = dev_objects_.begin(); it != dev_objects_.end();) {
          it = it->first.starts_with(controller_path_ + "/") ? dev_objects_.erase(it) : ++it;
        }
        std::erase_if(services_,
                      [&](const auto& s) { return s.first.starts_with(controller_path_ + "/"); });
        std::erase_if(chars_,
                      [&](const auto& c) { return c.first.starts_with(controller_path_ + "/"); });
        controller_gone(settings_->controller + " removed");
        return;
      case BluezInterface::device: {
        dev_objects_.erase(path);
        std::erase_if(services_, [&](const auto& s) { return s.first.starts_with(path + "/"); });
        std::erase_if(chars_, [&](const auto& c) { return c.first.starts_with(path + "/"); });
        if (auto* d = device_at(path)) {
          d->path.clear();
          if (d->active()) lost(*d, "the device object was removed");
        }
        evaluate();
        return;
      }
      case BluezInterface::service:
        services_.erase(path);
        return;
      case BluezInterface::characteristic:
        chars_.erase(path);
        return;
    }
  }

  void properties_changed(const std::string& path, BluezInterface iface,
                          const BluezProps& p) override {
    switch (iface) {
      case BluezInterface::adapter:
        if (path != controller_path_ || !p.powered) return;
        if (*p.powered == powered_) return;
        powered_ = *p.powered;
        ctx_.log.notice(fields("ble.controller_power"),
                        settings_->controller + (powered_ ? " powered on" : " powered off"));
        if (!powered_) {
          discovering_ = false;
          controller_gone(settings_->controller + " is powered off");
        }
        evaluate();
        return;
      case BluezInterface::device: {
        auto it = dev_objects_.find(path);
        if (it == dev_objects_.end()) return;
        merge(it->second, p);
        auto* d = device_at(path);
        if (d && p.connected && !*p.connected && d->active()) {
          lost(*d, "the device disconnected");
          evaluate();
        } else if (d && p.services_resolved && *p.services_resolved &&
                   d->state == State::connecting) {
          resolved(*d);
        }
        device_seen(path, it->second, p, false);
        return;
      }
      case BluezInterface::characteristic: {
        if (!p.value) return;
        for (auto& d : devices_) {
          if (d->state != State::online) continue;
          for (std::size_t i = 0; i < d->chars.size(); ++i) {
            if (d->chars[i].path == path && d->cfg->characteristics[i].notify) {
              ++d->chars[i].notifications;
              ++d->notifications;
              deliver(*d, i, *p.value);
            }
          }
        }
        return;
      }
      case BluezInterface::service:
        return;
    }
  }

 private:
  enum class State { waiting, absent, queued, connecting, online, backoff };

  static const char* state_name(State s) {
    switch (s) {
      case State::waiting:
        return "waiting-for-controller";
      case State::absent:
        return "searching";
      case State::queued:
        return "queued";
      case State::connecting:
        return "connecting";
      case State::online:
        return "online";
      case State::backoff:
        return "backoff";
    }
    return "?";
  }

  struct DeviceObject {
    std::string address;
    std::string name;
    std::string adapter;
    bool connected = false;
    bool services_resolved = false;
    std::optional<std::int16_t> rssi;
    std::vector<std::string> uuids;
    std::map<std::uint16_t, Bytes> manufacturer_data;
    std::map<std::string, Bytes> service_data;
  };
  struct ServiceObject {
    std::string uuid;
    std::string device;
  };
  struct CharObject {
    std::string uuid;
    std::string service;
    std::vector<std::string> flags;
  };

  struct CharState {
    std::string path;  // "" until resolved
    std::unique_ptr<asio::steady_timer> poll;
    bool read_in_flight = false;
    std::uint64_t reads = 0;
    std::uint64_t notifications = 0;
    std::uint64_t errors = 0;
    std::uint64_t skipped = 0;
    std::optional<Value> last_value;
    std::string last_error;
  };

  struct Device {
    Device(const DeviceSettings& c, std::string m, SourceAddress s, asio::io_context& loop)
        : cfg(&c), mac(std::move(m)), source(std::move(s)), timer(loop) {
      chars.resize(cfg->characteristics.size());
    }
    const DeviceSettings* cfg;
    std::string mac;
    SourceAddress source;
    std::string path;  // the Device1 object, "" while BlueZ does not know it
    State state = State::waiting;
    std::uint64_t epoch = 0;  // bumped on every (dis)connection: stale replies are ignored
    std::uint64_t queued_at = 0;
    bool connect_returned = false;
    std::uint32_t failures = 0;
    asio::steady_timer timer;  // connect timeout or backoff
    std::optional<std::chrono::steady_clock::time_point> retry_at;
    std::vector<CharState> chars;
    std::uint64_t connects = 0;
    std::uint64_t disconnects = 0;
    std::uint64_t notifications = 0;
    std::uint64_t readings = 0;
    std::uint64_t readings_refused = 0;
    std::uint64_t writes = 0;
    std::uint64_t failed_writes = 0;
    bool reported_online = false;
    std::optional<std::chrono::system_clock::time_point> last_seen;
    std::string last_error;

    bool active() const { return state == State::connecting || state == State::online; }
    void cancel_timers() {
      timer.cancel();
      for (auto& c : chars) {
        if (c.poll) c.poll->cancel();
        c.read_in_flight = false;
      }
    }
  };

  struct Advert {
    Advert(SourceAddress s, const AdvertiserSettings* c) : source(std::move(s)), cfg(c) {}
    SourceAddress source;
    const AdvertiserSettings* cfg;
    std::optional<std::chrono::steady_clock::time_point> last_reading;
    std::uint64_t heard = 0;
    std::uint64_t readings = 0;
    std::uint64_t suppressed = 0;
    std::uint64_t decode_errors = 0;
    std::optional<std::int16_t> rssi;
    std::optional<std::chrono::system_clock::time_point> last_seen;
    std::string last_error;
  };

  LogFields fields(std::string_view event, std::string_view source = {}) const {
    return {.event = event, .adapter = settings_->name.str(), .source = source};
  }

  SourceAddress source_of(const std::string& mac) const {
    return SourceAddress::make("ble", settings_->name, mac);
  }

  Device& add_device(const DeviceSettings& cfg, const std::string& mac) {
    devices_.push_back(std::make_unique<Device>(cfg, mac, source_of(mac), ctx_.loop));
    return *devices_.back();
  }

  Device* device_at(const std::string& path) {
    for (auto& d : devices_)
      if (d->path == path) return d.get();
    return nullptr;
  }
  Device* device_by_mac(const std::string& mac) {
    for (auto& d : devices_)
      if (d->mac == mac) return d.get();
    return nullptr;
  }

  static void merge(DeviceObject& o, const BluezProps& p) {
    if (p.address) o.address = *p.address;
    if (p.name) o.name = *p.name;
    if (p.adapter) o.adapter = *p.adapter;
    if (p.connected) o.connected = *p.connected;
    if (p.services_resolved) o.services_resolved = *p.services_resolved;
    if (p.rssi) o.rssi = *p.rssi;
    if (p.uuids) o.uuids = *p.uuids;
    if (p.manufacturer_data) o.manufacturer_data = *p.manufacturer_data;
    if (p.service_data) o.service_data = *p.service_data;
  }

  bool controller_ready() const { return bluez_up_ && controller_present_ && powered_; }

  // A Device1 object appeared or changed: bind it to a configured or rule-matched device, and
  // decode it as an advertiser when it advertised.
  void device_seen(const std::string& path, const DeviceObject& o, const BluezProps& changed,
                   bool snapshot) {
    if (o.adapter != controller_path_ || o.address.empty()) return;
    const auto mac = normalize_mac(o.address).value_or(o.address);
    auto* d = device_by_mac(mac);
    if (d == nullptr) d = bind_by_rule(mac, o);
    if (d != nullptr && d->path != path) {
      d->path = path;
      if (d->state == State::absent) {
        d->state = State::queued;
        d->queued_at = ++queue_seq_;
      }
      evaluate();
    }
    const bool advertised = changed.rssi || changed.manufacturer_data || changed.service_data;
    if (advertised && !snapshot) heard(mac, o);
  }

  Device* bind_by_rule(const std::string& mac, const DeviceObject& o) {
    for (const auto& cfg : settings_->devices) {
      if (!cfg.discover) continue;
      const auto& rule = *cfg.discover;
      if (!rule.name_prefix.empty() && !o.name.starts_with(rule.name_prefix)) continue;
      if (!rule.service_uuid.empty() && !has(o.uuids, rule.service_uuid)) continue;
      if (discovered_ >= settings_->max_discovered) {
        ++ignored_;
        return nullptr;
      }
      ++discovered_;
      auto& d = add_device(cfg, mac);
      d.state = controller_ready() ? State::absent : State::waiting;
      ctx_.log.notice(fields("ble.device_bound", d.source.str()),
                      d.source.str() + " (" + o.name + ") bound by a discovery rule");
      return &d;
    }
    return nullptr;
  }

  // Moves every device toward where it should be and fills free connection slots in order.
  void evaluate() {
    if (stopping_) return;
    if (!controller_ready()) return;
    for (auto& d : devices_) {
      if (d->state == State::waiting) {
        d->state = d->path.empty() ? State::absent : State::queued;
        d->queued_at = ++queue_seq_;
      } else if (d->state == State::absent && !d->path.empty()) {
        d->state = State::queued;
        d->queued_at = ++queue_seq_;
      }
    }
    for (;;) {
      std::int64_t active = 0;
      Device* next = nullptr;
      for (auto& d : devices_) {
        if (d->active()) ++active;
        if (d->state == State::queued && (!next || d->queued_at < next->queued_at)) next = d.get();
      }
      if (next == nullptr || active >= settings_->max_connections) break;
      begin_connect(*next);
    }
    ensure_discovery();
  }

  void ensure_discovery() {
    const bool needed = settings_->needs_discovery() ||
                        std::any_of(devices_.begin(), devices_.end(),
                                    [](const auto& d) { return d->state == State::absent; });
    if (!needed && discovering_ && !discovery_in_flight_ && controller_ready()) {
      // Scanning competes with connections for the radio: stop once nothing is searched for.
      discovering_ = false;
      link_.stop_discovery(controller_path_, [](BluezResult) {});
      return;
    }
    if (!needed || discovering_ || discovery_in_flight_ || !controller_ready()) return;
    discovery_in_flight_ = true;
    link_.start_discovery(controller_path_, {}, [weak = weak_from_this()](BluezResult r) {
      auto self = weak.lock();
      if (!self || self->stopping_) return;
      self->discovery_in_flight_ = false;
      if (r.ok() || r.error_name == "org.bluez.Error.InProgress") {
        self->discovering_ = true;
        self->discovery_error_.clear();
        return;
      }
      self->discovery_error_ = r.error_name + ": " + r.error_message;
      self->ctx_.log.warning(self->fields("ble.discovery_failed"),
                             "cannot start discovery: " + self->discovery_error_);
      self->discovery_timer_.expires_after(kDiscoveryRetry);
      self->discovery_timer_.async_wait(
          [weak = self->weak_from_this()](boost::system::error_code ec) {
            if (auto s = weak.lock(); s && !ec) s->evaluate();
          });
    });
  }

  void begin_connect(Device& d) {
    d.state = State::connecting;
    d.connect_returned = false;
    const auto epoch = ++d.epoch;
    ++d.connects;
    d.retry_at.reset();
    d.timer.expires_after(settings_->connect_timeout);
    d.timer.async_wait([weak = weak_from_this(), dp = &d, epoch](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->stopping_ || dp->epoch != epoch) return;
      self->failed(*dp, "no connection within " +
                            std::to_string(self->settings_->connect_timeout.count()) + " ms");
    });
    const auto& o = dev_objects_[d.path];
    if (o.connected && o.services_resolved) {
      // Still connected from before (a restart of fieldlink): nothing to wait for.
      resolved(d);
      return;
    }
    link_.connect(d.path, settings_->connect_timeout,
                  [weak = weak_from_this(), dp = &d, epoch](BluezResult r) {
                    auto self = weak.lock();
                    if (!self || self->stopping_ || dp->epoch != epoch) return;
                    if (!r.ok() && r.error_name != "org.bluez.Error.AlreadyConnected") {
                      self->failed(*dp, "Connect: " + r.error_name + ": " + r.error_message);
                      return;
                    }
                    dp->connect_returned = true;
                    const auto it = self->dev_objects_.find(dp->path);
                    if (it != self->dev_objects_.end() && it->second.services_resolved) {
                      self->resolved(*dp);
                    }
                  });
  }

  // Services are known: find the configured characteristics, subscribe, start polling.
  void resolved(Device& d) {
    if (d.state != State::connecting) return;
    d.timer.cancel();
    d.state = State::online;
    d.failures = 0;
    d.last_seen = ctx_.clock.wall_now();
    std::vector<std::string> missing;
    for (std::size_t i = 0; i < d.chars.size(); ++i) {
      const auto& cfg = d.cfg->characteristics[i];
      auto& c = d.chars[i];
      c.path = find_char(d.path, cfg);
      if (c.path.empty()) {
        c.last_error = "not found on the device";
        missing.push_back(cfg.name);
        continue;
      }
      if (cfg.notify) subscribe(d, i);
      if (cfg.read.count() > 0) schedule_read(d, i, 0ms);
    }
    if (!missing.empty()) {
      std::string list;
      for (const auto& m : missing)
        list += (list.empty() ? "" : ", ") + m;
      d.last_error = "characteristics not found: " + list;
      ctx_.log.warning(fields("ble.characteristic_missing", d.source.str()),
                       d.source.str() + ": " + d.last_error);
    }
    ctx_.log.notice(fields("ble.device_online", d.source.str()), d.source.str() + " online");
    report_online(d, true);
  }

  std::string find_char(const std::string& dev_path, const Characteristic& cfg) const {
    for (const auto& [path, c] : chars_) {
      if (c.uuid != cfg.uuid || !path.starts_with(dev_path + "/")) continue;
      if (!cfg.service_uuid.empty()) {
        const auto s = services_.find(c.service);
        if (s == services_.end() || lower(s->second.uuid) != cfg.service_uuid) continue;
      }
      return path;
    }
    return {};
  }

  void subscribe(Device& d, std::size_t i) {
    link_.start_notify(d.chars[i].path, settings_->io_timeout,
                       [weak = weak_from_this(), dp = &d, i, epoch = d.epoch](BluezResult r) {
                         auto self = weak.lock();
                         if (!self || self->stopping_ || dp->epoch != epoch || r.ok()) return;
                         auto& c = dp->chars[i];
                         ++c.errors;
                         c.last_error = "StartNotify: " + r.error_name + ": " + r.error_message;
                         dp->last_error = dp->cfg->characteristics[i].name + ": " + c.last_error;
                         self->ctx_.log.warning(self->fields("ble.notify_failed", dp->source.str()),
                                                dp->source.str() + " " + dp->last_error);
                       });
  }

  void schedule_read(Device& d, std::size_t i, Ms after) {
    auto& c = d.chars[i];
    if (!c.poll) c.poll = std::make_unique<asio::steady_timer>(ctx_.loop);
    c.poll->expires_after(after);
    c.poll->async_wait(
        [weak = weak_from_this(), dp = &d, i, epoch = d.epoch](boost::system::error_code ec) {
          auto self = weak.lock();
          if (ec || !self || self->stopping_ || dp->epoch != epoch || dp->state != State::online) {
            return;
          }
          self->read(*dp, i);
          self->schedule_read(*dp, i, dp->cfg->characteristics[i].read);
        });
  }

  // A read still in flight when the next is due skips it (counted): never a queue of reads.
  void read(Device& d, std::size_t i) {
    auto& c = d.chars[i];
    if (c.read_in_flight) {
      ++c.skipped;
      return;
    }
    c.read_in_flight = true;
    link_.read_value(c.path, settings_->io_timeout,
                     [weak = weak_from_this(), dp = &d, i, epoch = d.epoch](BluezResult r) {
                       auto self = weak.lock();
                       if (!self || self->stopping_ || dp->epoch != epoch) return;
                       auto& ch = dp->chars[i];
                       ch.read_in_flight = false;
                       if (!r.ok()) {
                         ++ch.errors;
                         ch.last_error = "ReadValue: " + r.error_name + ": " + r.error_message;
                         dp->last_error = dp->cfg->characteristics[i].name + ": " + ch.last_error;
                         return;
                       }
                       ++ch.reads;
                       self->deliver(*dp, i, r.value);
                     });
  }

  void deliver(Device& d, std::size_t i, const Bytes& bytes) {
    const auto& cfg = d.cfg->characteristics[i];
    auto& c = d.chars[i];
    const auto decoded = decode(cfg.codec, bytes);
    d.last_seen = ctx_.clock.wall_now();
    if (!decoded.value) {
      ++c.errors;
      c.last_error = "cannot decode " + to_hex(bytes) + ": " + decoded.error;
      d.last_error = cfg.name + ": " + c.last_error;
      return;
    }
    c.last_value = decoded.value;
    Reading r{d.source,
              *d.last_seen,
              {{cfg.name, *decoded.value}},
              decoded.special ? Quality::uncertain : Quality::good};
    if (ctx_.sink.push(std::move(r)) == ReadingSink::Result::accepted) {
      ++d.readings;
    } else {
      ++d.readings_refused;
    }
  }

  void report_online(Device& d, bool online) {
    if (d.reported_online == online) return;
    d.reported_online = online;
    Reading r{d.source,
              ctx_.clock.wall_now(),
              {{"fieldlink.online", online}},
              Quality::good,
              ReadingKind::reported};
    (void)ctx_.sink.push(std::move(r));
  }

  // The device dropped (or never came up): offline now, and back in the queue after a backoff.
  void lost(Device& d, const std::string& why) {
    ++d.disconnects;
    failed(d, why);
  }

  void failed(Device& d, const std::string& why) {
    const bool was_online = d.state == State::online;
    d.cancel_timers();
    ++d.epoch;
    d.last_error = why;
    d.state = State::backoff;
    report_online(d, false);
    const auto wait = backoff_.delay(++d.failures, rng_);
    d.retry_at = ctx_.clock.now() + wait;
    ctx_.log.warning(
        fields(was_online ? "ble.device_offline" : "ble.connect_failed", d.source.str()),
        d.source.str() + (was_online ? " offline: " : " not connected: ") + why + "; retry in " +
            std::to_string(wait.count()) + " ms");
    if (!d.path.empty() && dev_objects_.count(d.path) && dev_objects_[d.path].connected) {
      // Half-open (services never resolved, or a timeout): let the slot go for real.
      link_.disconnect(d.path, [](BluezResult) {});
    }
    d.timer.expires_after(wait);
    d.timer.async_wait(
        [weak = weak_from_this(), dp = &d, epoch = d.epoch](boost::system::error_code ec) {
          auto self = weak.lock();
          if (ec || !self || self->stopping_ || dp->epoch != epoch || dp->state != State::backoff) {
            return;
          }
          dp->retry_at.reset();
          dp->state = !self->controller_ready() ? State::waiting
                      : dp->path.empty()        ? State::absent
                                                : State::queued;
          dp->queued_at = ++self->queue_seq_;
          self->evaluate();
        });
    // Its slot is free: the next queued device may go.
    asio::post(ctx_.loop, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->evaluate();
    });
  }

  // The controller is gone or off: every device offline, waiting for it to return.
  void controller_gone(const std::string& why) {
    discovering_ = false;
    discovery_in_flight_ = false;
    for (auto& d : devices_) {
      const bool was_online = d->state == State::online;
      d->cancel_timers();
      ++d->epoch;
      d->retry_at.reset();
      if (d->state != State::waiting) d->last_error = why;
      d->state = State::waiting;
      d->failures = 0;
      if (!dev_objects_.count(d->path)) d->path.clear();
      if (was_online) {
        ++d->disconnects;
        ctx_.log.warning(fields("ble.device_offline", d->source.str()),
                         d->source.str() + " offline: " + why);
      }
      report_online(*d, false);
    }
  }

  // An advertisement (RSSI or data update) from `mac`.
  void heard(const std::string& mac, const DeviceObject& o) {
    auto it = adverts_.find(mac);
    if (it == adverts_.end()) {
      const AdvertiserSettings* match = nullptr;
      for (const auto& a : settings_->advertisers) {
        if (a.mac != "*" || !o.name.starts_with(a.name_prefix)) continue;
        const bool carries = a.company_id ? o.manufacturer_data.count(*a.company_id) > 0
                                          : o.service_data.count(a.service_data_uuid) > 0;
        if (carries) {
          match = &a;
          break;
        }
      }
      if (match == nullptr) return;
      if (discovered_ >= settings_->max_discovered) {
        ++ignored_;
        return;
      }
      ++discovered_;
      it = adverts_.emplace(mac, Advert{source_of(mac), match}).first;
    }
    auto& a = it->second;
    const auto& cfg = *a.cfg;
    const Bytes* data = nullptr;
    if (cfg.company_id) {
      auto m = o.manufacturer_data.find(*cfg.company_id);
      if (m != o.manufacturer_data.end()) data = &m->second;
    } else {
      auto s = o.service_data.find(cfg.service_data_uuid);
      if (s != o.service_data.end()) data = &s->second;
    }
    if (data == nullptr) return;
    ++a.heard;
    a.rssi = o.rssi;
    a.last_seen = ctx_.clock.wall_now();
    const auto now = ctx_.clock.now();
    if (a.last_reading && now - *a.last_reading < cfg.dedupe) {
      ++a.suppressed;
      return;
    }
    Reading r{a.source, *a.last_seen, {}, Quality::good};
    for (const auto& f : cfg.fields) {
      const auto v = decode(f.codec, *data);
      if (!v.value) {
        ++a.decode_errors;
        a.last_error = f.name + ": cannot decode " + to_hex(*data) + ": " + v.error;
        return;
      }
      if (v.special) r.quality = Quality::uncertain;
      r.values.emplace_back(f.name, *v.value);
    }
    if (o.rssi) r.values.emplace_back("rssi", static_cast<std::int64_t>(*o.rssi));
    a.last_reading = now;
    if (ctx_.sink.push(std::move(r)) == ReadingSink::Result::accepted) ++a.readings;
  }

  struct WriteRequest {
    std::size_t index = 0;
    Bytes bytes;
    json value;
    BluezLink::WriteType type = BluezLink::WriteType::request;
  };

  // Checks a characteristic write; on success fills `w`, else returns the refusal.
  std::optional<Outcome> prepare_write(const Device& d, const std::string& name, const json& value,
                                       bool raw_hex, std::optional<bool> response,
                                       WriteRequest& w) const;
  void write(Device& d, WriteRequest w, Ms timeout, std::function<void(BluezResult)> done);

  struct OpenCommand {
    OutcomeHandler handler;
    bool answered = false;
  };

  AdapterContext ctx_;
  std::shared_ptr<const BleSettings> settings_;
  BluezLink& link_;
  Rng& rng_;
  ReconnectBackoff backoff_;
  std::string controller_path_;
  asio::steady_timer discovery_timer_;
  bool stopping_ = false;
  bool bluez_up_ = false;
  bool down_logged_ = false;
  std::string bluez_message_ = "not connected yet";
  bool controller_present_ = false;
  bool powered_ = false;
  bool discovering_ = false;
  bool discovery_in_flight_ = false;
  std::string discovery_error_;
  std::map<std::string, DeviceObject> dev_objects_;
  std::map<std::string, ServiceObject> services_;
  std::map<std::string, CharObject> chars_;
  std::vector<std::unique_ptr<Device>> devices_;  // stable addresses: handlers keep pointers
  std::map<std::string, Advert> adverts_;
  std::int64_t discovered_ = 0;
  std::uint64_t ignored_ = 0;
  std::uint64_t queue_seq_ = 0;
  std::vector<std::weak_ptr<OpenCommand>> open_commands_;
};

std::optional<Outcome> BleAdapter::Core::prepare_write(const Device& d, const std::string& name,
                                                       const json& value, bool raw_hex,
                                                       std::optional<bool> response,
                                                       WriteRequest& w) const {
  const auto& chars = d.cfg->characteristics;
  const auto it = std::find_if(chars.begin(), chars.end(),
                               [&](const Characteristic& c) { return c.name == name; });
  if (it == chars.end() || !it->writable) {
    std::string list;
    for (const auto& c : chars)
      if (c.writable) list += (list.empty() ? "" : ", ") + c.name;
    return outcome(it == chars.end() ? 404 : 400,
                   (it == chars.end() ? "no characteristic '" : "characteristic '") + name +
                       (it == chars.end() ? "' on this device" : "' is not writable") +
                       " (writable: " + (list.empty() ? "none" : list) + ")");
  }
  w.index = static_cast<std::size_t>(it - chars.begin());
  if (d.state != State::online) {
    return outcome(404, "the device is offline (" + std::string(state_name(d.state)) +
                            (d.last_error.empty() ? "" : ": " + d.last_error) + ")");
  }
  const auto& c = d.chars[w.index];
  if (c.path.empty()) return outcome(404, "characteristic '" + name + "' was not found on it");
  auto codec = it->codec;
  if (raw_hex) codec = FieldCodec{ValueType::hex, Endian::little, it->codec.offset, 0, 1.0, 0.0};
  auto encoded = encode(codec, value);
  if (!encoded.bytes) return outcome(400, name + ": " + encoded.error);
  w.bytes = std::move(*encoded.bytes);
  w.value = value;
  const auto& flags = chars_.at(c.path).flags;
  const bool with = has(flags, "write") || has(flags, "authenticated-signed-writes");
  const bool without = has(flags, "write-without-response");
  if (!with && !without) {
    return outcome(400, "characteristic '" + name + "' does not allow writes on the device");
  }
  if (response && (*response ? !with : !without)) {
    return outcome(400, std::string("characteristic '") + name + "' allows writes only " +
                            (with ? "with" : "without") + " response");
  }
  // With response when allowed and not declined: the answer then says the device took it.
  w.type = with && response.value_or(true) ? BluezLink::WriteType::request
                                           : BluezLink::WriteType::command;
  return std::nullopt;
}

void BleAdapter::Core::write(Device& d, WriteRequest w, Ms timeout,
                             std::function<void(BluezResult)> done) {
  ++d.writes;
  link_.write_value(d.chars[w.index].path, w.bytes,
                    static_cast<std::uint16_t>(d.cfg->characteristics[w.index].codec.offset),
                    w.type, timeout,
                    [weak = weak_from_this(), dp = &d, done = std::move(done)](BluezResult r) {
                      if (auto self = weak.lock(); self && !r.ok()) {
                        ++dp->failed_writes;
                        dp->last_error = "WriteValue: " + r.error_name + ": " + r.error_message;
                      }
                      done(std::move(r));
                    });
}

void BleAdapter::Core::execute(const Command& command, OutcomeHandler handler) {
  handler = once(std::move(handler));
  const auto mac = normalize_mac(command.target.device_key());
  Device* d =
      mac && command.target.adapter() == settings_->name.str() ? device_by_mac(*mac) : nullptr;
  if (d == nullptr) {
    handler(outcome(404, "no such BLE device on this adapter (connected devices: ble://" +
                             settings_->name.str() + "/<MAC> of a configured or bound device)"));
    return;
  }
  auto timeout = settings_->io_timeout;
  if (command.deadline != std::chrono::steady_clock::time_point{}) {
    // Never wait past the hub's own method timeout: the caller would get no answer at all.
    const auto left = std::chrono::duration_cast<Ms>(command.deadline - ctx_.clock.now());
    timeout = std::clamp(left, Ms(1), timeout);
  }
  const auto body = json::parse(command.payload, nullptr, false);
  if (command.kind == Command::Kind::desired) {
    if (!body.is_object()) {
      handler(outcome(400, "expected a desired-properties patch (a JSON object)"));
      return;
    }
    const auto version = body.contains("$version") && body["$version"].is_number_integer()
                             ? body["$version"].get<std::int64_t>()
                             : std::int64_t{0};
    // Each property is acknowledged on its own (value, ac, av, ad), as the twin's writable-
    // property convention expects; a bad one does not stop the others.
    struct Pending {
      json reported = json::object();
      int status = 200;
      std::size_t left = 0;
      OutcomeHandler handler;
    };
    auto p = std::make_shared<Pending>();
    p->handler = std::move(handler);
    std::vector<std::pair<std::string, WriteRequest>> writes;
    for (const auto& [name, value] : body.items()) {
      if (name.starts_with("$")) continue;
      WriteRequest w;
      if (auto refused = prepare_write(*d, name, value, false, std::nullopt, w)) {
        const auto why = json::parse(refused->payload)["message"].get<std::string>();
        p->reported[name] = {{"ac", refused->status}, {"av", version}, {"ad", why}};
        if (p->status == 200) p->status = refused->status;
        continue;
      }
      writes.emplace_back(name, std::move(w));
    }
    p->left = writes.size();
    if (writes.empty()) {
      p->handler({p->status, p->reported.dump()});
      return;
    }
    for (auto& [name, w] : writes) {
      auto value = w.value;
      write(*d, std::move(w), timeout, [p, name = name, value, version](BluezResult r) {
        const int status = r.ok() ? 200 : r.timed_out() ? 504 : 502;
        p->reported[name] = {{"value", value},
                             {"ac", status},
                             {"av", version},
                             {"ad", r.ok() ? "written" : r.error_name + ": " + r.error_message}};
        if (status != 200 && p->status == 200) p->status = status;
        if (--p->left == 0) p->handler({p->status, p->reported.dump()});
      });
    }
    return;
  }
  const bool is_write = command.kind == Command::Kind::c2d ||
                        (command.kind == Command::Kind::method && command.name == "write");
  const bool is_read = command.kind == Command::Kind::method && command.name == "read";
  if (!is_write && !is_read) {
    handler(outcome(400, "unknown method '" + command.name + "'; this device has: write, read"));
    return;
  }
  if (!body.is_object() || !body.contains("characteristic") ||
      !body["characteristic"].is_string()) {
    handler(outcome(400, is_write ? R"(expected {"characteristic": "<name>", "value": <value>} )"
                                    R"(or {"characteristic": "<name>", "hex": "0a1b"})"
                                  : R"(expected {"characteristic": "<name>"})"));
    return;
  }
  const auto name = body["characteristic"].get<std::string>();
  if (is_read) {
    const auto& chars = d->cfg->characteristics;
    const auto it = std::find_if(chars.begin(), chars.end(),
                                 [&](const Characteristic& c) { return c.name == name; });
    if (it == chars.end()) {
      handler(outcome(404, "no characteristic '" + name + "' on this device"));
      return;
    }
    const auto i = static_cast<std::size_t>(it - chars.begin());
    if (d->state != State::online || d->chars[i].path.empty()) {
      handler(outcome(404, "the device or its characteristic is not available (" +
                               std::string(state_name(d->state)) + ")"));
      return;
    }
    link_.read_value(d->chars[i].path, timeout, [codec = it->codec, name, handler](BluezResult r) {
      if (!r.ok()) {
        handler(bluez_failure(r, name));
        return;
      }
      const auto v = decode(codec, r.value);
      json j{{"status", 200}, {"characteristic", name}, {"raw", to_hex(r.value)}};
      if (v.value) j["value"] = value_json(*v.value);
      handler({200, j.dump()});
    });
    return;
  }
  const bool raw = body.contains("hex");
  if (raw == body.contains("value")) {
    handler(outcome(400, R"(expected exactly one of "value" (encoded by the characteristic's )"
                         R"(type) or "hex" (raw bytes))"));
    return;
  }
  std::optional<bool> response;
  if (body.contains("response")) {
    if (!body["response"].is_boolean()) {
      handler(outcome(400, R"("response" must be true or false)"));
      return;
    }
    response = body["response"].get<bool>();
  }
  WriteRequest w;
  if (auto refused = prepare_write(*d, name, raw ? body["hex"] : body["value"], raw, response, w)) {
    handler(std::move(*refused));
    return;
  }
  const auto type = w.type == BluezLink::WriteType::request ? "request" : "command";
  const auto hex = to_hex(w.bytes);
  write(*d, std::move(w), timeout, [handler, name, type, hex](BluezResult r) {
    if (!r.ok()) {
      handler(bluez_failure(r, name));
      return;
    }
    handler(
        {200,
         json{{"status", 200}, {"characteristic", name}, {"written", hex}, {"type", type}}.dump()});
  });
}

void BleAdapter::Core::describe(json& out) const {
  out["name"] = settings_->name.str();
  out["type"] = "ble";
  out["controller"] = settings_->controller;
  out["bluez"] = {{"up", bluez_up_},
                  {"message", bluez_message_},
                  {"controller_present", controller_present_},
                  {"powered", powered_},
                  {"discovering", discovering_},
                  {"discovery_error", discovery_error_}};
  std::int64_t connected = 0;
  std::int64_t queued = 0;
  for (const auto& d : devices_) {
    connected += d->active();
    queued += d->state == State::queued;
  }
  out["max_connections"] = settings_->max_connections;
  out["connections"] = connected;
  out["queued"] = queued;
  out["discovered"] = discovered_;
  out["ignored"] = ignored_;
  auto& devices = out["devices"] = json::array();
  const auto now = ctx_.clock.now();
  for (const auto& d : devices_) {
    json chars = json::array();
    for (std::size_t i = 0; i < d->chars.size(); ++i) {
      const auto& c = d->chars[i];
      chars.push_back({{"name", d->cfg->characteristics[i].name},
                       {"uuid", d->cfg->characteristics[i].uuid},
                       {"found", !c.path.empty()},
                       {"reads", c.reads},
                       {"notifications", c.notifications},
                       {"errors", c.errors},
                       {"skipped", c.skipped},
                       {"value", c.last_value ? value_json(*c.last_value) : json()},
                       {"last_error", c.last_error}});
    }
    devices.push_back({
        {"source", d->source.str()},
        {"mac", d->mac},
        {"state", state_name(d->state)},
        {"online", d->state == State::online},
        {"object", d->path},
        {"connects", d->connects},
        {"disconnects", d->disconnects},
        {"failures", d->failures},
        {"retry_in_ms",
         d->retry_at
             ? std::max<std::int64_t>(0, std::chrono::duration_cast<Ms>(*d->retry_at - now).count())
             : 0},
        {"readings", d->readings},
        {"readings_refused", d->readings_refused},
        {"notifications", d->notifications},
        {"writes", d->writes},
        {"failed_writes", d->failed_writes},
        {"characteristics", std::move(chars)},
        {"last_seen", d->last_seen ? json(utc_iso8601(*d->last_seen)) : json()},
        {"last_error", d->last_error},
    });
  }
  auto& adverts = out["advertisers"] = json::array();
  for (const auto& [mac, a] : adverts_) {
    adverts.push_back({{"source", a.source.str()},
                       {"mac", mac},
                       {"heard", a.heard},
                       {"readings", a.readings},
                       {"suppressed", a.suppressed},
                       {"decode_errors", a.decode_errors},
                       {"rssi", a.rssi ? json(*a.rssi) : json()},
                       {"last_seen", a.last_seen ? json(utc_iso8601(*a.last_seen)) : json()},
                       {"last_error", a.last_error}});
  }
}

BleAdapter::BleAdapter(AdapterContext context, std::shared_ptr<const BleSettings> settings,
                       std::unique_ptr<BluezLink> link, std::unique_ptr<Rng> rng)
    : context_(std::move(context)),
      settings_(std::move(settings)),
      link_(std::move(link)),
      rng_(std::move(rng)) {
  core_ = std::make_shared<Core>(context_, settings_, *link_, *rng_);
}

BleAdapter::~BleAdapter() {
  core_->stop();
  link_->stop();
}

void BleAdapter::start() {
  link_->start(*core_);
}

void BleAdapter::stop(std::function<void()> done) {
  core_->stop();
  link_->stop();
  // Cancelled handlers run before `done`: they were queued first.
  boost::asio::post(context_.loop, std::move(done));
}

void BleAdapter::execute(const Command& command, OutcomeHandler handler) {
  core_->execute(command, std::move(handler));
}

void BleAdapter::describe(nlohmann::json& out) const {
  core_->describe(out);
}

AdapterType ble_type() {
  return adapter_type(
      "ble", "Bluetooth LE through BlueZ: GATT devices and advertising sensors", parse_ble_settings,
      [](AdapterContext context, std::shared_ptr<const BleSettings> settings) {
        auto link = std::make_unique<SdbusBluezLink>(context.loop);
        return std::make_unique<BleAdapter>(std::move(context), std::move(settings),
                                            std::move(link), std::make_unique<SystemRng>());
      },
      ble_schema_reference);
}

}  // namespace fieldlink::ble
