// fieldlinkd: wiring only (design.md §2). Parses the command line and hands over to the app.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "adapters/builtin.hpp"
#include "app.hpp"
#include "config/loader.hpp"
#include "config/schema.hpp"
#include "identity-map/checked_config.hpp"

namespace {

constexpr const char* kDefaultConfig = "/etc/fieldlink/fieldlink.yaml";

void usage(std::FILE* to) {
  std::fprintf(to,
               "usage: fieldlinkd [--config FILE] [--check-config] [--print-schema] [--version]\n"
               "  --config FILE    configuration file (default %s); conf.d/*.yaml beside it\n"
               "                   is merged in name order\n"
               "  --check-config   validate the configuration, print 'ok' or the errors, exit 0/1\n"
               "  --print-schema   print every configuration key as a Markdown table\n"
               "  --version        print the version and the built-in adapter types\n",
               kDefaultConfig);
}

// The daemon's own keys, then each built-in adapter type's, so the reference is complete.
void print_schema() {
  std::fputs("## Configuration keys\n\n", stdout);
  std::fputs(fieldlink::config::schema_reference().c_str(), stdout);
  const auto registry = fieldlink::builtin_adapters();
  for (const auto& type : registry.types()) {
    std::printf("\n## adapters[] with `type: %s`\n\n%s\n\n", type.type.c_str(),
                type.description.c_str());
    if (type.reference) std::fputs(type.reference().c_str(), stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that closes its socket is an error on that connection, never the end of the daemon.
  std::signal(SIGPIPE, SIG_IGN);
  fieldlink::AppOptions options{kDefaultConfig};
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      options.config_path = argv[++i];
    } else if (arg.starts_with("--config=")) {
      options.config_path = std::string(arg.substr(9));
    } else if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "--print-schema") {
      print_schema();
      return fieldlink::kExitOk;
    } else if (arg == "--version") {
      std::printf("fieldlinkd %s\nadapter types: %s\n", FIELDLINK_VERSION,
                  fieldlink::builtin_adapters().type_list().c_str());
      return fieldlink::kExitOk;
    } else if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return fieldlink::kExitOk;
    } else {
      std::fprintf(stderr, "fieldlinkd: unknown argument '%s'\n", argv[i]);
      usage(stderr);
      return fieldlink::kExitUsage;
    }
  }
  const auto adapters = fieldlink::builtin_adapters();
  if (check_only) {
    const auto loaded = fieldlink::load_checked_config(options.config_path, adapters);
    if (loaded.config) {
      std::puts("ok");
      return fieldlink::kExitOk;
    }
    std::fputs(loaded.diagnostics.to_string().c_str(), stdout);
    return fieldlink::kExitFailure;
  }
  return fieldlink::run_daemon(options, adapters);
}
