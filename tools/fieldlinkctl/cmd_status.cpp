// `status` and `devices`: read-only views of /status.
#include <cstdio>

#include "commands.hpp"
#include "device_rows.hpp"
#include "exit_codes.hpp"
#include "local_daemon.hpp"
#include "status_view.hpp"
#include "terminal.hpp"

namespace fieldlink::ctl {
namespace {

// Identities come from the config when it loads; the views work without it.
const std::vector<config::IdentityBinding>* bindings_of(LocalDaemon& daemon) {
  const auto* c = daemon.config();
  return c ? &c->identities : nullptr;
}

}  // namespace

int run_status(const Words& words) {
  const auto parsed = parse_args(words, with_common_options({{"--json", false}}));
  if (!parsed.error.empty()) return usage_error(parsed.error);
  if (!parsed.args.positional.empty()) return usage_error("status takes no arguments");
  LocalDaemon daemon(parsed.args);
  std::string message;
  const auto doc = daemon.status(message);
  if (!doc) {
    std::fprintf(stderr, "fieldlinkctl: %s", message.c_str());
    return kExitUnreachable;
  }
  if (parsed.args.has("--json")) {
    // The daemon answers compact JSON (cheaper for its loop); indenting here keeps --json as
    // readable as it always was, at the tool's cost instead of the gateway's.
    std::puts(doc->dump(2).c_str());
    return kExitOk;
  }
  const auto text =
      render_status(*doc, bindings_of(daemon), std::chrono::system_clock::now(), stdout_palette());
  std::fputs(text.c_str(), stdout);
  return kExitOk;
}

int run_devices(const Words& words) {
  const auto parsed = parse_args(words, with_common_options({}));
  if (!parsed.error.empty()) return usage_error(parsed.error);
  if (!parsed.args.positional.empty()) return usage_error("devices takes no arguments");
  LocalDaemon daemon(parsed.args);
  std::string message;
  const auto doc = daemon.status(message);
  if (!doc) {
    std::fprintf(stderr, "fieldlinkctl: %s", message.c_str());
    return kExitUnreachable;
  }
  const auto rows = device_rows(*doc, bindings_of(daemon), std::chrono::system_clock::now());
  if (rows.empty()) {
    std::puts("no devices: no adapter reports any (fieldlinkctl status shows the adapters)");
    return kExitOk;
  }
  std::fputs(render_devices(rows, stdout_palette()).c_str(), stdout);
  return kExitOk;
}

}  // namespace fieldlink::ctl
