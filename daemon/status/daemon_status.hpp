#pragma once
// The daemon's own lines on /status and /metrics: version, uptime, which config is running since
// when, and how reloads went — what an operator checks first after editing the config.
// Thread: the core loop's.
#include <chrono>
#include <cstdint>
#include <string>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/diagnostics.hpp"
#include "status/status_board.hpp"

namespace fieldlink {

class DaemonStatus final : public StatusProvider {
 public:
  DaemonStatus(const Clock& clock, std::string config_path);

  void loaded(const config::Config& config);
  // The errors that made the coming reload_failed() refuse the config, one `file:line:col: …`
  // each, so `fieldlinkctl reload` can show them without access to the daemon's log.
  void reload_errors(const Diagnostics& diagnostics);
  void reload_failed(std::string why);

  void describe(nlohmann::json& status) const override;
  void collect(MetricsWriter& metrics) const override;
  void health(std::vector<std::string>& problems) const override;

 private:
  const Clock& clock_;
  std::string config_path_;
  std::string gateway_name_;
  std::vector<std::string> config_files_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::system_clock::time_point loaded_at_;
  std::uint64_t loads_ = 0;
  std::uint64_t reload_failures_ = 0;
  bool last_reload_failed_ = false;
  std::chrono::system_clock::time_point reload_failed_at_;
  std::string last_reload_error_;
  std::vector<std::string> pending_errors_;
  std::vector<std::string> last_reload_errors_;
};

}  // namespace fieldlink
