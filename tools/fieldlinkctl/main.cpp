// fieldlinkctl: the operator's console tool for a local fieldlinkd.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "status_client.hpp"

namespace {

constexpr const char* kDefaultUrl = "http://127.0.0.1:8086";

void usage(std::FILE* to) {
  std::fprintf(to,
               "usage: fieldlinkctl status [--url URL] [--json]\n"
               "  URL is http://HOST:PORT or unix:/PATH (default %s), as in status.listen\n",
               kDefaultUrl);
}

std::string uptime_text(double seconds) {
  auto s = static_cast<long long>(seconds);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lldd %02lld:%02lld:%02lld", s / 86400, s / 3600 % 24,
                s / 60 % 60, s % 60);
  return buf;
}

int print_status(const std::string& url, bool json) {
  const auto reply = fieldlink::ctl::http_get(url, "/status");
  if (!reply.error.empty()) {
    std::fprintf(stderr,
                 "fieldlinkctl: cannot reach fieldlinkd at %s: %s\n"
                 "  is it running? (systemctl status fieldlinkd) Does --url match status.listen?\n",
                 url.c_str(), reply.error.c_str());
    return 2;
  }
  if (reply.status != 200) {
    std::fprintf(stderr, "fieldlinkctl: %s/status answered %d\n", url.c_str(), reply.status);
    return 2;
  }
  if (json) {
    std::fputs(reply.body.c_str(), stdout);
    return 0;
  }
  const auto doc = nlohmann::json::parse(reply.body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    std::fprintf(stderr, "fieldlinkctl: %s/status did not answer JSON\n", url.c_str());
    return 2;
  }
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  const bool healthy = doc.value("healthy", false);
  const char* mark = healthy ? (tty ? "\033[32mhealthy\033[0m" : "healthy")
                             : (tty ? "\033[31mUNHEALTHY\033[0m" : "UNHEALTHY");
  std::printf("fieldlinkd %s  pid %ld  up %s  %s\n", doc.value("version", "?").c_str(),
              doc.value("pid", 0L), uptime_text(doc.value("uptime_seconds", 0.0)).c_str(), mark);
  for (const auto& p : doc.value("problems", std::vector<std::string>{})) {
    std::printf("  problem: %s\n", p.c_str());
  }
  if (doc.contains("config")) {
    const auto& c = doc["config"];
    std::printf("config     %s (loaded %s, %llu reloads, %llu failed%s)\n",
                c.value("file", "?").c_str(), c.value("loaded_at", "?").c_str(),
                c.value("reloads", 0ULL), c.value("reload_failures", 0ULL),
                c.value("last_reload_failed", false) ? "; LAST RELOAD FAILED, see the log" : "");
  }
  std::printf("adapters   %zu\n", doc.value("adapters", nlohmann::json::array()).size());
  std::printf("devices    %zu\n", doc.value("devices", nlohmann::json::array()).size());
  std::printf("sessions   %zu\n", doc.value("sessions", nlohmann::json::array()).size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    usage(args.empty() ? stderr : stdout);
    return args.empty() ? 64 : 0;
  }
  if (args[0] != "status") {
    std::fprintf(stderr, "fieldlinkctl: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 64;
  }
  std::string url = kDefaultUrl;
  bool json = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--url" && i + 1 < args.size()) {
      url = args[++i];
    } else if (args[i] == "--json") {
      json = true;
    } else {
      std::fprintf(stderr, "fieldlinkctl: unknown argument '%s'\n", std::string(args[i]).c_str());
      usage(stderr);
      return 64;
    }
  }
  return print_status(url, json);
}
