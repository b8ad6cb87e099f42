#include "app.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "config/loader.hpp"
#include "core/clock.hpp"
#include "core/lane.hpp"
#include "core/rng.hpp"
#include "hub/mqtt/tls_context.hpp"
#include "hub/upstream.hpp"
#include "identity-map/identity_map.hpp"
#include "journal_link.hpp"
#include "loop_sink.hpp"
#include "router/router.hpp"
#include "service/service_logger.hpp"
#include "service/systemd_notifier.hpp"
#include "status/control_server.hpp"
#include "status/daemon_status.hpp"
#include "status/status_board.hpp"
#include "status/status_server.hpp"
#include "store/journal.hpp"

namespace fieldlink {
namespace {

namespace asio = boost::asio;
using config::Config;
using namespace std::chrono_literals;

// How long SIGTERM waits for adapters to stop before closing the rest anyway.
constexpr auto kAdapterStopLimit = 1s;
// How long SIGTERM then waits for the hub's PUBACKs of the messages in flight.
constexpr auto kPubackGrace = 5s;

std::uint64_t per_window(const Config& c) {
  return c.log.rate_limit.count;
}

// Publishes the logger's suppressed count on /metrics.
class LogMetrics final : public StatusProvider {
 public:
  explicit LogMetrics(const ServiceLogger& log) : log_(log) {}
  void describe(nlohmann::json&) const override {}
  void collect(MetricsWriter& m) const override {
    m.counter("fieldlink_log_suppressed_total",
              "Log records withheld by the per-source rate limit.",
              static_cast<double>(log_.suppressed_total()));
  }
  void health(std::vector<std::string>&) const override {}

 private:
  const ServiceLogger& log_;
};

class Daemon final : public hub::DownlinkHandler, public StatusProvider {
 public:
  Daemon(const AppOptions& options, const AdapterRegistry& registry,
         std::shared_ptr<const Config> config, std::shared_ptr<const IdentityMap> identities)
      : options_(options),
        registry_(registry),
        config_(std::move(config)),
        identities_(std::move(identities)),
        log_(clock_, ServiceLogger::detect_target(), config_->log.level, per_window(*config_),
             config_->log.rate_limit.per),
        daemon_status_(clock_, options.config_path),
        log_metrics_(log_),
        status_(loop_, board_, log_),
        control_(
            loop_,
            [this](ControlRequest r, ControlServer::Reply reply) {
              local_request(std::move(r), std::move(reply));
            },
            log_),
        signals_(loop_, SIGTERM, SIGINT, SIGHUP),
        watchdog_(loop_),
        stop_timer_(loop_) {}

  int run() {
    if (const int rc = start(); rc != kExitOk) return rc;
    loop_.run();
    // Destroyed here, on the loop's thread and before the loop: the journal commits what is
    // pending as it goes.
    adapters_.clear();
    stopping_.clear();
    sink_.reset();
    router_.reset();
    upstream_.reset();
    journal_.reset();
    return kExitOk;
  }

  void downlink(hub::Downlink d, hub::SettleDownlink complete) override {
    router_->downlink(std::move(d), std::move(complete));
  }

  // The adapters section of /status.
  void describe(nlohmann::json& status) const override {
    for (const auto& [name, a] : adapters_) {
      nlohmann::json entry = nlohmann::json::object();
      a.adapter->describe(entry);
      entry["name"] = name;
      entry["type"] = a.type;
      status["adapters"].push_back(std::move(entry));
    }
  }
  void collect(MetricsWriter& m) const override {
    if (!sink_) return;
    m.counter("fieldlink_intake_waits_total",
              "Readings from adapter threads that waited for room in the journal's intake.",
              static_cast<double>(sink_->waited()));
    m.counter("fieldlink_intake_refused_total",
              "Readings from adapter threads refused after waiting (stopping, or a stuck journal).",
              static_cast<double>(sink_->refused()));
    m.counter(
        "fieldlink_intake_dropped_total",
        "Readings handed over that the journal refused although it had room (a bug if not 0).",
        static_cast<double>(sink_->lost()));
    m.gauge("fieldlink_intake_held", "Readings held for the journal's next commit.",
            static_cast<double>(sink_->held()));
  }
  void health(std::vector<std::string>&) const override {}

 private:
  struct RunningAdapter {
    std::string type;
    std::string fingerprint;
    std::unique_ptr<Adapter> adapter;
  };

  int start() {
    const auto& c = *config_;
    std::error_code ec;
    std::filesystem::create_directories(c.gateway.state_dir.path, ec);
    JournalSettings js;
    js.path = c.gateway.state_dir.path + "/journal.db";
    js.store = c.store;
    std::string error;
    journal_ = Journal::open(js, loop_.get_executor(), clock_, log_, free_space_, error);
    if (!journal_) {
      log_.error({.event = "journal.open_failed"}, "cannot open the journal: " + error);
      return kExitFailure;
    }
    link_ = std::make_unique<JournalLink>(*journal_);
    if (!c.hub.host.empty()) {
      try {
        tls_ = std::make_unique<hub::mqtt::TlsContext>(c.hub.ca_file.path);
      } catch (const std::exception& e) {
        log_.error({.event = "config.tls"}, e.what());
        return kExitConfig;
      }
    }
    upstream_ = std::make_unique<hub::Upstream>(
        loop_, hub::UpstreamSettings{c.hub.connect_rate.per_second(), c.hub.send_rate.per_second()},
        *link_, *this, log_, clock_, rng_);
    link_->connect(*upstream_, [this](AppendTicket through) {
      if (!sink_) return;
      sink_->settled(through);
      if (draining_) drain_and_stop();
    });
    router_ = std::make_unique<Router>(
        loop_, router_settings(c), *link_, *link_, *upstream_,
        [this](const SourceAddress& source, const Binding& b) {
          family_.insert_or_assign(b.identity.client_id(), std::make_pair(source, b));
          add_session(b);
        },
        Router::GatewayActions{[this] { return board_.status(); },
                               [this] { asio::post(loop_, [this] { reload(); }); }},
        log_, clock_, rng_);
    router_->set_identities(identities_);
    sink_ = std::make_unique<LoopSink>(
        loop_, *router_, [this] { return journal_->intake_depth(); }, js.intake_limit,
        js.intake_limit / 2);
    sink_->track_durability([this] { return journal_->last_ticket(); },
                            [this] { journal_->flush(); });
    for (const auto& b : identities_->fixed())
      add_session(b);
    for (const auto& a : c.adapters)
      start_adapter(a);

    board_.attach(daemon_status_);
    board_.attach(log_metrics_);
    board_.attach(*this);
    board_.attach(*journal_);
    board_.attach(*upstream_);
    board_.attach(*router_);
    if (auto why = status_.open(c.status.listen); !why.empty()) {
      log_.error({.event = "status.listen_failed"}, why);
      return kExitFailure;
    }
    if (auto why = control_.open(c.control.listen); !why.empty()) {
      log_.error({.event = "control.listen_failed"}, why);
      return kExitFailure;
    }
    daemon_status_.loaded(c);
    wait_for_signal();
    start_watchdog();
    log_.notice({.event = "daemon.ready"}, "fieldlinkd " FIELDLINK_VERSION " ready; " + summary());
    notifier_.ready(summary());
    return kExitOk;
  }

  // A request from the control socket, already on the loop: the router takes it as the hub's
  // downlink for that identity, with the answer going back to the socket.
  void local_request(ControlRequest r, ControlServer::Reply reply) {
    hub::Downlink d;
    d.kind = r.kind == ControlRequest::Kind::method ? hub::Downlink::Kind::method
                                                    : hub::Downlink::Kind::c2d;
    d.identity = Identity{DeviceId(std::move(r.device_id)), ModuleId(std::move(r.module_id))};
    d.name = std::move(r.name);
    d.payload = std::move(r.payload);
    d.properties = std::move(r.properties);
    router_->local_downlink(std::move(d), r.timeout, std::move(reply));
  }

  static RouterSettings router_settings(const Config& c) {
    return {c.gateway.name,       c.gateway.identity,
            c.unknown_sources,    c.hub.mode == config::HubMode::gateway,
            c.hub.method_timeout, c.store.max_age};
  }

  hub::SessionSettings session_settings(const Binding& b) {
    const auto& h = config_->hub;
    hub::SessionSettings s;
    s.identity = b.identity;
    s.hub_host = h.host;
    s.endpoint = {h.gateway_host.empty() ? h.host : h.gateway_host,
                  static_cast<std::uint16_t>(h.port)};
    s.sas_key = b.credential.sas_key;
    s.tls = tls_.get();
    s.keepalive = h.keepalive;
    s.token_ttl = h.token_ttl;
    s.stall_timeout = h.stall_timeout;
    s.inflight = static_cast<std::size_t>(h.inflight);
    return s;
  }

  void add_session(const Binding& b) {
    if (config_->hub.host.empty() || upstream_->find(b.identity) != nullptr) return;
    auto s = session_settings(b);
    if (b.credential.x509()) {
      // The client certificate lives in the TLS context, so an X.509 identity has its own.
      try {
        auto ctx = std::make_unique<hub::mqtt::TlsContext>(
            config_->hub.ca_file.path, b.credential.cert_file, b.credential.key_file);
        s.tls = ctx.get();
        x509_[b.identity.client_id()] = std::move(ctx);
      } catch (const std::exception& e) {
        log_.error({.event = "session.credential", .identity = b.identity.client_id()}, e.what());
        return;
      }
    }
    upstream_->add(std::move(s));
  }

  void remove_session(const Identity& identity) {
    upstream_->remove(identity);
    x509_.erase(identity.client_id());
  }

  void start_adapter(const config::AdapterConfig& a) {
    const auto* type = registry_.find(a.type);
    if (type == nullptr) return;  // the config loader refused it already
    auto adapter = type->create(
        AdapterContext{loop_, *sink_, log_, clock_,
                       [](std::string name) { return std::make_unique<Lane>(std::move(name)); }},
        a.settings);
    router_->attach(*adapter);
    adapter->start();
    adapters_[a.name.str()] = RunningAdapter{a.type, a.fingerprint, std::move(adapter)};
  }

  void stop_adapter(const std::string& name, std::function<void()> then) {
    const auto it = adapters_.find(name);
    if (it == adapters_.end()) return then();
    router_->detach(AdapterName(name));
    // Stopped adapters are kept until they say they are done (their lanes may still be busy).
    auto* adapter = it->second.adapter.get();
    stopping_.push_back(std::move(it->second.adapter));
    adapters_.erase(it);
    adapter->stop([this, adapter, then = std::move(then)] {
      std::erase_if(stopping_, [adapter](const auto& p) { return p.get() == adapter; });
      then();
    });
  }

  std::string summary() const {
    return std::to_string(adapters_.size()) + " adapters, " +
           std::to_string(config_->identities.size()) + " identities; status at " + status_.url();
  }

  void wait_for_signal() {
    signals_.async_wait([this](boost::system::error_code ec, int signal) {
      if (ec) return;
      if (signal == SIGHUP) {
        reload();
        wait_for_signal();
      } else {
        stop(signal);
      }
    });
  }

  void start_watchdog() {
    const auto period = SystemdNotifier::watchdog_period();
    if (!period) return;
    // Pinging from a timer on the core loop ties the watchdog to the loop turning: a loop stuck
    // in a blocking call stops the pings and systemd restarts us.
    watchdog_.expires_after(*period / 2);
    watchdog_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      notifier_.watchdog();
      start_watchdog();
    });
  }

  void refuse_reload(const std::string& why) {
    daemon_status_.reload_failed(why);
    log_.error({.event = "config.reload_failed"},
               "configuration not reloaded: " + why +
                   "; still running on the configuration loaded before");
    notifier_.ready(summary());
  }

  // Validate-then-swap: the running config changes only if the new one is entirely valid; then
  // only the sessions and adapters whose configuration changed are restarted.
  void reload() {
    notifier_.reloading();
    log_.notice({.event = "config.reload"}, "reloading " + options_.config_path);
    auto loaded = config::load_config(options_.config_path, registry_);
    std::shared_ptr<const IdentityMap> identities;
    if (loaded.config)
      identities = IdentityMap::build(loaded.config->identities, loaded.diagnostics);
    if (!loaded.config || !identities) {
      for (const auto& d : loaded.diagnostics.items()) {
        log_.error({.event = "config.invalid"}, d.to_string());
      }
      daemon_status_.reload_errors(loaded.diagnostics);
      return refuse_reload(std::to_string(loaded.diagnostics.size()) + " error(s)");
    }
    const auto& next = *loaded.config;
    if (!(next.status.listen == config_->status.listen)) {
      if (auto why = status_.open(next.status.listen); !why.empty()) {
        status_.open(config_->status.listen);
        return refuse_reload(why);
      }
    }
    if (!(next.control.listen == config_->control.listen)) {
      if (auto why = control_.open(next.control.listen); !why.empty()) {
        control_.open(config_->control.listen);
        // The refused configuration's status address goes too: the running one stays whole.
        if (!(next.status.listen == config_->status.listen)) status_.open(config_->status.listen);
        return refuse_reload(why);
      }
    }
    if (!same_upstream(next, *config_)) {
      log_.warning({.event = "config.restart_needed"},
                   "changes to hub, store or gateway settings take effect after a restart");
    }
    config_ = std::move(loaded.config);
    apply_identities(identities);
    apply_adapters();
    log_.set_level(config_->log.level);
    log_.set_rate_limit(per_window(*config_), config_->log.rate_limit.per);
    daemon_status_.loaded(*config_);
    log_.notice({.event = "config.reloaded"}, "configuration reloaded; " + summary());
    notifier_.ready(summary());
  }

  static bool same_upstream(const Config& a, const Config& b) {
    const auto& x = a.hub;
    const auto& y = b.hub;
    return x.host == y.host && x.gateway_host == y.gateway_host && x.port == y.port &&
           x.ca_file == y.ca_file && x.mode == y.mode && x.token_ttl == y.token_ttl &&
           x.connect_rate == y.connect_rate && x.send_rate == y.send_rate &&
           x.keepalive == y.keepalive && x.inflight == y.inflight &&
           x.stall_timeout == y.stall_timeout && a.gateway.state_dir == b.gateway.state_dir &&
           a.store.max_size == b.store.max_size && a.store.min_free == b.store.min_free &&
           a.store.max_age == b.store.max_age && a.store.on_full == b.store.on_full &&
           a.store.sync == b.store.sync && a.store.commit_interval == b.store.commit_interval;
  }

  void apply_identities(std::shared_ptr<const IdentityMap> next) {
    const auto before = identities_->fixed();
    const auto after = next->fixed();
    auto contains = [](const std::vector<Binding>& v, const Binding& b) {
      return std::find(v.begin(), v.end(), b) != v.end();
    };
    for (const auto& b : before) {
      if (!contains(after, b)) remove_session(b.identity);
    }
    // A member of a wildcard family keeps its session if its source still resolves to the
    // same identity and credential; otherwise it gets a new one when its device next speaks.
    for (auto it = family_.begin(); it != family_.end();) {
      const auto& [source, binding] = it->second;
      if (next->resolve(source) == binding) {
        ++it;
        continue;
      }
      remove_session(binding.identity);
      it = family_.erase(it);
    }
    identities_ = std::move(next);
    router_->set_identities(identities_);
    for (const auto& b : after) {
      if (!contains(before, b)) add_session(b);
    }
  }

  void apply_adapters() {
    std::map<std::string, const config::AdapterConfig*> wanted;
    for (const auto& a : config_->adapters)
      wanted[a.name.str()] = &a;
    std::vector<std::string> names;
    for (const auto& [name, running] : adapters_)
      names.push_back(name);
    for (const auto& name : names) {
      const auto it = wanted.find(name);
      if (it != wanted.end() && it->second->fingerprint == adapters_[name].fingerprint) continue;
      auto replacement = it == wanted.end() ? std::optional<config::AdapterConfig>()
                                            : std::optional<config::AdapterConfig>(*it->second);
      stop_adapter(name, [this, replacement] {
        if (replacement) start_adapter(*replacement);
      });
    }
    for (const auto& [name, a] : wanted) {
      if (std::find(names.begin(), names.end(), name) == names.end()) start_adapter(*a);
    }
  }

  // Shutdown's last step: what the sink still holds goes into the journal, commit by commit (each
  // commit's report brings us back here), then the loop ends and the journal commits the rest.
  void drain_and_stop() {
    sink_->settled(0);
    journal_->flush();
    if (sink_->held() == 0) loop_.stop();
  }

  void stop(int signal) {
    notifier_.stopping();
    log_.notice({.event = "daemon.stopping"},
                std::string("stopping on ") + (signal == SIGINT ? "SIGINT" : "SIGTERM"));
    signals_.cancel();
    watchdog_.cancel();
    status_.close();
    control_.close();  // no new requests; answers still owed are dropped with their connections
    auto remaining = std::make_shared<std::size_t>(adapters_.size());
    auto finish = [this] {
      stop_timer_.cancel();
      // The PUBACKs of what is in flight first: a message disconnected from before its PUBACK is
      // sent again after the restart, and the hub would have it twice.
      upstream_->stop(kPubackGrace, [this] {
        sink_->close();
        // Behind the readings adapters handed over before they stopped, which are still queued
        // on the loop: they reach the journal before its last commit.
        asio::post(loop_, [this] {
          draining_ = true;
          drain_and_stop();
        });
      });
    };
    if (*remaining == 0) return finish();
    stop_timer_.expires_after(kAdapterStopLimit);
    stop_timer_.async_wait([finish](boost::system::error_code ec) {
      if (!ec) finish();
    });
    std::vector<std::string> names;
    for (const auto& [name, a] : adapters_)
      names.push_back(name);
    for (const auto& name : names) {
      stop_adapter(name, [remaining, finish] {
        if (--*remaining == 0) finish();
      });
    }
  }

  const AppOptions& options_;
  const AdapterRegistry& registry_;
  std::shared_ptr<const Config> config_;
  std::shared_ptr<const IdentityMap> identities_;
  asio::io_context loop_{1};
  SystemClock clock_;
  SystemRng rng_;
  StatvfsProbe free_space_;
  ServiceLogger log_;
  SystemdNotifier notifier_;
  StatusBoard board_;
  DaemonStatus daemon_status_;
  LogMetrics log_metrics_;
  StatusServer status_;
  ControlServer control_;
  asio::signal_set signals_;
  asio::steady_timer watchdog_;
  asio::steady_timer stop_timer_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<JournalLink> link_;
  std::unique_ptr<hub::mqtt::TlsContext> tls_;
  std::map<std::string, std::unique_ptr<hub::mqtt::TlsContext>> x509_;
  std::unique_ptr<hub::Upstream> upstream_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<LoopSink> sink_;
  bool draining_ = false;  // stopping: the sink hands its last readings to the journal
  // Sessions made for members of wildcard families, by client id: the source and its binding.
  std::map<std::string, std::pair<SourceAddress, Binding>> family_;
  std::map<std::string, RunningAdapter> adapters_;
  std::vector<std::unique_ptr<Adapter>> stopping_;
};

}  // namespace

int run_daemon(const AppOptions& options, const AdapterRegistry& adapters) {
  auto loaded = config::load_config(options.config_path, adapters);
  std::shared_ptr<const IdentityMap> identities;
  if (loaded.config) identities = IdentityMap::build(loaded.config->identities, loaded.diagnostics);
  if (!loaded.config || !identities) {
    std::fputs(loaded.diagnostics.to_string().c_str(), stderr);
    std::fprintf(stderr, "fieldlinkd: %zu configuration error(s); not starting\n",
                 loaded.diagnostics.size());
    return kExitConfig;
  }
  Daemon daemon(options, adapters, std::move(loaded.config), std::move(identities));
  return daemon.run();
}

}  // namespace fieldlink
