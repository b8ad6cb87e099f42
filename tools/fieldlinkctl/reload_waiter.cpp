#include "reload_waiter.hpp"

namespace fieldlink::ctl {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr auto kPollInterval = 50ms;

}  // namespace

std::optional<ReloadCounters> reload_counters(const json& status) {
  if (!status.is_object() || !status.contains("pid") || !status.contains("config")) {
    return std::nullopt;
  }
  const auto& c = status["config"];
  if (!status["pid"].is_number_integer() || !c.is_object() || !c.contains("reloads") ||
      !c.contains("reload_failures")) {
    return std::nullopt;
  }
  return ReloadCounters{status["pid"].get<long>(), c["reloads"].get<std::uint64_t>(),
                        c["reload_failures"].get<std::uint64_t>()};
}

std::optional<ReloadOutcome> judge_reload(const ReloadCounters& before, const json& now) {
  const auto after = reload_counters(now);
  if (!after)
    return ReloadOutcome{ReloadResult::unreachable, "/status lost its config section", {}};
  if (after->pid != before.pid) {
    return ReloadOutcome{ReloadResult::unreachable,
                         "fieldlinkd restarted (pid " + std::to_string(before.pid) + " → " +
                             std::to_string(after->pid) + ") while reloading",
                         {}};
  }
  // A failure counted after ours is checked first: if both moved, someone else's reload raced
  // with ours and the refusal is the one an operator must see.
  if (after->failures > before.failures) {
    ReloadOutcome out{ReloadResult::refused, "fieldlinkd refused the configuration", {}};
    const auto& c = now["config"];
    if (c.contains("last_reload_failure") && c["last_reload_failure"].is_object()) {
      const auto& f = c["last_reload_failure"];
      out.message += ": " + f.value("error", std::string("see the log"));
      if (f.contains("errors") && f["errors"].is_array()) {
        for (const auto& e : f["errors"]) {
          if (e.is_string()) out.errors.push_back(e.get<std::string>());
        }
      }
    }
    out.message += "; it keeps running the configuration loaded before";
    return out;
  }
  if (after->reloads > before.reloads) {
    return ReloadOutcome{
        ReloadResult::reloaded,
        "configuration reloaded (loaded at " + now["config"].value("loaded_at", "?") + ")",
        {}};
  }
  return std::nullopt;
}

ReloadOutcome reload_and_wait(const ReloadPort& port, std::chrono::milliseconds timeout) {
  std::string error;
  const auto first = port.fetch(error);
  if (!first) return {ReloadResult::unreachable, error, {}};
  const auto before = reload_counters(*first);
  if (!before) {
    return {ReloadResult::unreachable, "the status endpoint does not look like fieldlinkd's", {}};
  }
  if (auto why = port.hangup(before->pid); !why.empty()) {
    return {ReloadResult::signal_failed,
            "cannot signal fieldlinkd (pid " + std::to_string(before->pid) + "): " + why,
            {}};
  }
  const auto deadline = port.now() + timeout;
  while (port.now() < deadline) {
    port.pause(kPollInterval);
    const auto doc = port.fetch(error);
    if (!doc) return {ReloadResult::unreachable, "fieldlinkd stopped answering: " + error, {}};
    if (auto outcome = judge_reload(*before, *doc)) return *outcome;
  }
  return {ReloadResult::timed_out,
          "no reload outcome on /status within " + std::to_string(timeout.count() / 1000) +
              " s; see `journalctl -u fieldlinkd`",
          {}};
}

}  // namespace fieldlink::ctl
