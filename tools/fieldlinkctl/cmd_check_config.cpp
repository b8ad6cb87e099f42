// `check-config`: the same verdict as `fieldlinkd --check-config`.
//
// Linked rather than exec'ing fieldlinkd: it is the same loader and the same built-in adapter
// list compiled into both tools from one tree (they ship in one package), it works where
// fieldlinkd is not beside fieldlinkctl or on PATH (build trees, a partly installed system),
// and `identity add` needs the loader in-process anyway to check a staged edit (a file list that
// fieldlinkd's command line cannot express). The cost is a larger binary (the adapters' client
// libraries), which a gateway image carries for fieldlinkd already.
#include <cstdio>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "local_daemon.hpp"

namespace fieldlink::ctl {

int run_check_config(const Words& words) {
  const auto parsed = parse_args(words, {{"--config", true}});
  if (!parsed.error.empty()) return usage_error(parsed.error);
  if (!parsed.args.positional.empty()) return usage_error("check-config takes no arguments");
  LocalDaemon daemon(parsed.args);
  if (daemon.config() != nullptr) {
    std::puts("ok");
    return kExitOk;
  }
  std::fputs(daemon.diagnostics().to_string().c_str(), stdout);
  return kExitFailed;
}

}  // namespace fieldlink::ctl
