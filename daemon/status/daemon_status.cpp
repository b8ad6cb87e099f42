#include "status/daemon_status.hpp"

#include "core/utc_time.hpp"

#include <unistd.h>

#include <utility>

namespace fieldlink {

DaemonStatus::DaemonStatus(const Clock& clock, std::string config_path)
    : clock_(clock), config_path_(std::move(config_path)), started_(clock.now()) {}

void DaemonStatus::loaded(const config::Config& config) {
  gateway_name_ = config.gateway.name;
  config_files_ = config.files;
  loaded_at_ = clock_.wall_now();
  ++loads_;
  last_reload_failed_ = false;
  pending_errors_.clear();
}

void DaemonStatus::reload_errors(const Diagnostics& diagnostics) {
  pending_errors_.clear();
  for (const auto& d : diagnostics.items())
    pending_errors_.push_back(d.to_string());
}

void DaemonStatus::reload_failed(std::string why) {
  ++reload_failures_;
  last_reload_failed_ = true;
  reload_failed_at_ = clock_.wall_now();
  last_reload_error_ = std::move(why);
  last_reload_errors_ = std::exchange(pending_errors_, {});
}

void DaemonStatus::describe(nlohmann::json& status) const {
  const auto uptime = std::chrono::duration<double>(clock_.now() - started_).count();
  status["gateway"] = gateway_name_;
  status["version"] = FIELDLINK_VERSION;
  status["pid"] = static_cast<long>(::getpid());
  status["uptime_seconds"] = uptime;
  status["config"] = {{"file", config_path_},
                      {"files", config_files_},
                      {"loaded_at", utc_iso8601(loaded_at_)},
                      {"reloads", loads_ - 1},
                      {"reload_failures", reload_failures_},
                      {"last_reload_failed", last_reload_failed_}};
  // Kept after a later successful reload, so a tool that raced with it still finds what failed.
  if (reload_failures_ > 0) {
    status["config"]["last_reload_failure"] = {{"at", utc_iso8601(reload_failed_at_)},
                                               {"error", last_reload_error_},
                                               {"errors", last_reload_errors_}};
  }
}

void DaemonStatus::collect(MetricsWriter& m) const {
  m.gauge("fieldlink_build_info", "Version of the running fieldlinkd.", 1,
          {{"version", FIELDLINK_VERSION}});
  m.gauge("fieldlink_uptime_seconds", "Seconds since fieldlinkd started.",
          std::chrono::duration<double>(clock_.now() - started_).count());
  m.counter("fieldlink_config_reloads_total", "Configuration reloads by result.",
            static_cast<double>(loads_ - 1), {{"result", "ok"}});
  m.counter("fieldlink_config_reloads_total", "Configuration reloads by result.",
            static_cast<double>(reload_failures_), {{"result", "error"}});
  m.gauge("fieldlink_config_loaded_timestamp_seconds",
          "When the running configuration was loaded (Unix time).",
          std::chrono::duration<double>(loaded_at_.time_since_epoch()).count());
}

void DaemonStatus::health(std::vector<std::string>&) const {
  // A failed reload is not unhealthy: the previous configuration keeps running, and /status and
  // the log say so. Parts that can be unhealthy (sessions, journal) report their own problems.
}

}  // namespace fieldlink
