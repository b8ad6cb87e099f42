#pragma once
// The composition root: builds every part from the config, wires them on the core loop, and runs
// the service life (ready, watchdog, reload on SIGHUP, drain on SIGTERM). The one place that knows
// all parts; nothing else constructs them.
#include <memory>
#include <string>

#include "core/adapter_registry.hpp"

namespace fieldlink {

struct AppOptions {
  std::string config_path;
};

// Exit codes, as systemd's unit file expects them (RestartPreventExitStatus=78).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 64;
inline constexpr int kExitConfig = 78;

// Runs the daemon until SIGTERM/SIGINT; returns the process exit code.
int run_daemon(const AppOptions& options, const AdapterRegistry& adapters);

}  // namespace fieldlink
