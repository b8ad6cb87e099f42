// `reload`: SIGHUP the running daemon and wait for its verdict on the new configuration.
#include <cstdio>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "local_daemon.hpp"

namespace fieldlink::ctl {

int run_reload(const Words& words) {
  const auto parsed = parse_args(words, with_common_options({{"--timeout", true}}));
  if (!parsed.error.empty()) return usage_error(parsed.error);
  if (!parsed.args.positional.empty()) return usage_error("reload takes no arguments");
  long seconds = 10;
  if (const auto t = parsed.args.value("--timeout")) {
    char* end = nullptr;
    seconds = std::strtol(t->c_str(), &end, 10);
    if (end == t->c_str() || *end != '\0' || seconds < 1 || seconds > 600) {
      return usage_error("--timeout is whole seconds from 1 to 600, got '" + *t + "'");
    }
  }
  LocalDaemon daemon(parsed.args);
  const auto outcome = daemon.reload(std::chrono::seconds(seconds));
  print_reload_outcome(outcome);
  return exit_code_of(outcome);
}

}  // namespace fieldlink::ctl
