#pragma once
// What every command shares: the options naming the config and the status URL, loading the
// config with the built-in adapter types (as fieldlinkd does), finding the status endpoint from
// status.listen, fetching /status and asking for a reload.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_args.hpp"
#include "config/loader.hpp"
#include "reload_waiter.hpp"

namespace fieldlink::ctl {

// --config and --url, accepted by every command.
std::vector<OptionSpec> with_common_options(std::vector<OptionSpec> specific);

class LocalDaemon {
 public:
  explicit LocalDaemon(const ParsedArgs& args);

  const std::string& config_path() const { return config_path_; }
  // Loads the config once; null (and diagnostics() says why) when it does not load.
  const config::Config* config();
  const Diagnostics& diagnostics() const { return loaded_.diagnostics; }
  config::LoadResult load(const config::LoadOptions& options) const;

  // --url, else status.listen from the config, else the default; `note` says why when the
  // config could not tell.
  std::string url();
  // /status as JSON, or nullopt with the message to print (and kExitUnreachable to return).
  std::optional<nlohmann::json> status(std::string& message);
  ReloadOutcome reload(std::chrono::milliseconds timeout);
  // The control socket from control.listen ("unix:/run/fieldlink/control.sock"); nullopt with
  // the message to print (and kExitUnreachable to return) when it is off or cannot be found.
  std::optional<std::string> control_url(std::string& message);

 private:
  // An edit of one config followed by a reload of a daemon that runs another would look like a
  // success; say so. A path the daemon reports relative to its own folder cannot be compared.
  void warn_if_other_config(const nlohmann::json& status) const;

  std::string config_path_;
  std::optional<std::string> url_;
  bool loaded_once_ = false;
  config::LoadResult loaded_;
  std::string url_note_;
};

void print_reload_outcome(const ReloadOutcome& outcome);
int exit_code_of(const ReloadOutcome& outcome);

}  // namespace fieldlink::ctl
