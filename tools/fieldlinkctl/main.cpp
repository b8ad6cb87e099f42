// fieldlinkctl: the operator's console tool for a local fieldlinkd. Dispatch only; each command
// lives in its own cmd_*.cpp and the logic in the fieldlink_ctl library.
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "daemon_endpoint.hpp"
#include "exit_codes.hpp"

namespace {

void usage(std::FILE* to) {
  std::fprintf(
      to,
      "usage: fieldlinkctl COMMAND [options]\n"
      "\n"
      "commands:\n"
      "  status [--json]          the daemon, adapters, devices, hub sessions and journal\n"
      "  devices                  one line per device: source, identity, adapter, state,\n"
      "                           age of the last reading, errors\n"
      "  check-config             validate the configuration as `fieldlinkd --check-config`\n"
      "  reload [--timeout S]     SIGHUP fieldlinkd and wait (default 10 s) until it has\n"
      "                           reloaded or refused the configuration; prints the errors\n"
      "  identity list            bindings of sources to hub identities, with their sessions\n"
      "  identity show DEVICE_ID [--module-id M]\n"
      "  identity add --source S --device-id D [--module-id M] CREDENTIAL\n"
      "                [--keys-dir DIR] [--no-reload]\n"
      "      CREDENTIAL is one of:\n"
      "        --key BASE64                 written to DIR/<device>.key (mode 0600);\n"
      "                                     `--key -` reads it from stdin (not in ps)\n"
      "        --key-file F                 an existing SAS key file (mode 0600)\n"
      "        --generate-key [--show-key]  a new random key in DIR; --show-key prints it once\n"
      "                                     on stdout, to register the device in the hub\n"
      "        --cert-file C --key-file K   X.509 certificate and private key\n"
      "        --group-key-file G           for a wildcard source (mqtt://<adapter>/+) whose\n"
      "                                     device id names the levels ({1}); keys derived\n"
      "      Writes identities.d/<device>.yaml beside the config after checking the whole\n"
      "      configuration with it; DIR defaults to <config folder>/keys (made 0700).\n"
      "  identity remove DEVICE_ID [--module-id M] [--no-reload]\n"
      "      Deletes the identities.d file `identity add` wrote, and the key file it made.\n"
      "  invoke IDENTITY METHOD [JSON] [--timeout S] [--json]\n"
      "      a direct method on the device bound to IDENTITY (DEVICE or DEVICE/MODULE), or a\n"
      "      built-in (ping, status, reload) on the gateway's own identity; prints the\n"
      "      device's status and payload. Timeout: S seconds, else hub.method_timeout\n"
      "  send-c2d IDENTITY BODY|@FILE|@- [--property KEY=VALUE]... [--json]\n"
      "      a C2D message, queued in the journal as one from the hub would be\n"
      "      Both go through the control socket (control.listen, off by default), not the\n"
      "      hub: they work while the gateway is offline.\n"
      "\n"
      "options of every command:\n"
      "  --config FILE   the configuration (default %s); conf.d/ and identities.d/ beside it\n"
      "  --url URL       the status endpoint, http://HOST:PORT or unix:/PATH (default: the\n"
      "                  config's status.listen, else %s)\n"
      "\n"
      "colour only when stdout is a terminal and NO_COLOR is not set.\n"
      "\n"
      "exit codes: %d ok; %d failed (config invalid, reload refused, edit refused, a method\n"
      "            or C2D message answered with an error status);\n"
      "            %d fieldlinkd not reachable; %d usage error\n"
      "            (invoke and send-c2d exit 2 also when control.listen is not set)\n",
      fieldlink::ctl::kDefaultConfig, fieldlink::ctl::kDefaultUrl, fieldlink::ctl::kExitOk,
      fieldlink::ctl::kExitFailed, fieldlink::ctl::kExitUnreachable, fieldlink::ctl::kExitUsage);
}

}  // namespace

namespace fieldlink::ctl {

int usage_error(const std::string& what) {
  std::fprintf(stderr, "fieldlinkctl: %s (see fieldlinkctl --help)\n", what.c_str());
  return kExitUsage;
}

}  // namespace fieldlink::ctl

int main(int argc, char** argv) {
  using namespace fieldlink::ctl;
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    usage(stderr);
    return kExitUsage;
  }
  const std::string_view command = args[0];
  if (command == "--help" || command == "-h" || command == "help") {
    usage(stdout);
    return kExitOk;
  }
  const Words rest(args.begin() + 1, args.end());
  try {
    if (command == "status") return run_status(rest);
    if (command == "devices") return run_devices(rest);
    if (command == "check-config") return run_check_config(rest);
    if (command == "reload") return run_reload(rest);
    if (command == "identity") return run_identity(rest);
    if (command == "invoke") return run_invoke(rest);
    if (command == "send-c2d") return run_send_c2d(rest);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fieldlinkctl: %s\n", e.what());
    return kExitFailed;
  }
  return usage_error("unknown command '" + args[0] + "'");
}
