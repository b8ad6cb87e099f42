#include "app.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>

#include "config/loader.hpp"
#include "core/clock.hpp"
#include "service/service_logger.hpp"
#include "service/systemd_notifier.hpp"
#include "status/daemon_status.hpp"
#include "status/status_board.hpp"
#include "status/status_server.hpp"

namespace fieldlink {
namespace {

namespace asio = boost::asio;
using config::Config;

std::uint64_t per_window(const Config& c) {
  return c.log.rate_limit.count;
}

class Daemon {
 public:
  Daemon(const AppOptions& options, const AdapterRegistry& adapters,
         std::shared_ptr<const Config> config)
      : options_(options),
        adapters_(adapters),
        config_(std::move(config)),
        log_(clock_, ServiceLogger::detect_target(), config_->log.level, per_window(*config_),
             config_->log.rate_limit.per),
        daemon_status_(clock_, options.config_path),
        status_(loop_, board_, log_),
        signals_(loop_, SIGTERM, SIGINT, SIGHUP),
        watchdog_(loop_) {}

  int run() {
    board_.attach(daemon_status_);
    board_.attach(log_metrics_);
    if (auto why = status_.open(config_->status.listen); !why.empty()) {
      log_.error({.event = "status.listen_failed"}, why);
      return kExitFailure;
    }
    daemon_status_.loaded(*config_);
    wait_for_signal();
    start_watchdog();
    log_.notice({.event = "daemon.ready"}, "fieldlinkd " FIELDLINK_VERSION " ready; " + summary());
    notifier_.ready(summary());
    loop_.run();
    return kExitOk;
  }

 private:
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

  std::string summary() const {
    return std::to_string(config_->adapters.size()) + " adapters, " +
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

  // Validate-then-swap: the running config changes only if the new one is entirely valid and
  // every part accepted it.
  void reload() {
    notifier_.reloading();
    log_.notice({.event = "config.reload"}, "reloading " + options_.config_path);
    auto loaded = config::load_config(options_.config_path, adapters_);
    if (!loaded.config) {
      daemon_status_.reload_failed();
      for (const auto& d : loaded.diagnostics.items()) {
        log_.error({.event = "config.invalid"}, d.to_string());
      }
      log_.error({.event = "config.reload_failed"},
                 "configuration not reloaded: " + std::to_string(loaded.diagnostics.size()) +
                     " error(s); still running on the configuration loaded before");
      notifier_.ready(summary());
      return;
    }
    if (!(loaded.config->status.listen == config_->status.listen)) {
      if (auto why = status_.open(loaded.config->status.listen); !why.empty()) {
        status_.open(config_->status.listen);
        daemon_status_.reload_failed();
        log_.error({.event = "config.reload_failed"}, "configuration not reloaded: " + why +
                                                          "; still running on the configuration "
                                                          "loaded before");
        notifier_.ready(summary());
        return;
      }
    }
    config_ = std::move(loaded.config);
    log_.set_level(config_->log.level);
    log_.set_rate_limit(per_window(*config_), config_->log.rate_limit.per);
    daemon_status_.loaded(*config_);
    log_.notice({.event = "config.reloaded"}, "configuration reloaded; " + summary());
    notifier_.ready(summary());
  }

  void stop(int signal) {
    notifier_.stopping();
    log_.notice({.event = "daemon.stopping"},
                std::string("stopping on ") + (signal == SIGINT ? "SIGINT" : "SIGTERM"));
    signals_.cancel();
    watchdog_.cancel();
    status_.close();
    loop_.stop();
  }

  const AppOptions& options_;
  const AdapterRegistry& adapters_;
  std::shared_ptr<const Config> config_;
  asio::io_context loop_{1};
  SystemClock clock_;
  ServiceLogger log_;
  SystemdNotifier notifier_;
  StatusBoard board_;
  DaemonStatus daemon_status_;
  LogMetrics log_metrics_{log_};
  StatusServer status_;
  asio::signal_set signals_;
  asio::steady_timer watchdog_;
};

}  // namespace

int run_daemon(const AppOptions& options, const AdapterRegistry& adapters) {
  auto loaded = config::load_config(options.config_path, adapters);
  if (!loaded.config) {
    std::fputs(loaded.diagnostics.to_string().c_str(), stderr);
    std::fprintf(stderr, "fieldlinkd: %zu configuration error(s); not starting\n",
                 loaded.diagnostics.size());
    return kExitConfig;
  }
  Daemon daemon(options, adapters, std::move(loaded.config));
  return daemon.run();
}

}  // namespace fieldlink
