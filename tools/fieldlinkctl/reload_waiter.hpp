#pragma once
// `fieldlinkctl reload`: SIGHUP to the pid that /status names, then /status until it shows the
// outcome. The daemon's reload counter advancing means the new config runs; its failure counter
// advancing means it was refused (the old config keeps running) and /status carries the errors.
// Fetching and signalling are passed in, so the judging is unit-tested without a daemon.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fieldlink::ctl {

struct ReloadCounters {
  long pid = 0;
  std::uint64_t reloads = 0;
  std::uint64_t failures = 0;
};

enum class ReloadResult { reloaded, refused, timed_out, unreachable, signal_failed };

struct ReloadOutcome {
  ReloadResult result = ReloadResult::timed_out;
  std::string message;              // a sentence for the operator
  std::vector<std::string> errors;  // file:line:col: … lines of a refused config
};

// The counters in a /status document; nullopt when it lacks them (not a fieldlinkd).
std::optional<ReloadCounters> reload_counters(const nlohmann::json& status);

// The outcome once `now` shows one relative to `before`; nullopt while it is still pending.
std::optional<ReloadOutcome> judge_reload(const ReloadCounters& before, const nlohmann::json& now);

struct ReloadPort {
  // Fetches /status; nullopt and `error` set when the daemon cannot be reached.
  std::function<std::optional<nlohmann::json>(std::string& error)> fetch;
  // Sends SIGHUP; returns why not, or "".
  std::function<std::string(long pid)> hangup;
  std::function<void(std::chrono::milliseconds)> pause;
  std::function<std::chrono::steady_clock::time_point()> now;
};

ReloadOutcome reload_and_wait(const ReloadPort& port, std::chrono::milliseconds timeout);

}  // namespace fieldlink::ctl
