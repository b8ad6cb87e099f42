// `invoke` and `send-c2d`: a method or a C2D message for one device, through the daemon's local
// control socket rather than the hub, so they work on site without the cloud.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "commands.hpp"
#include "control_call.hpp"
#include "exit_codes.hpp"
#include "local_daemon.hpp"
#include "status_client.hpp"

namespace fieldlink::ctl {
namespace {

// Beyond the method's own timeout: the daemon answers 504 itself when the device is late.
constexpr std::chrono::seconds kExchangeMargin{10};
constexpr long kMaxTimeout = 300;  // hub.method_timeout's upper bound, as the daemon enforces

int post_and_print(LocalDaemon& daemon, const std::string& path, const std::string& body,
                   std::chrono::seconds timeout, bool json, const std::string& what) {
  std::string message;
  const auto url = daemon.control_url(message);
  if (!url) {
    std::fprintf(stderr, "fieldlinkctl: %s", message.c_str());
    return kExitUnreachable;
  }
  const auto reply = http_post(*url, path, body, timeout);
  if (!reply.error.empty()) {
    std::fprintf(stderr, "fieldlinkctl: %s",
                 control_unreachable_message(*url, reply.error).c_str());
    return kExitUnreachable;
  }
  const auto answer = read_answer(reply.status, reply.body);
  const bool ok = answer.error.empty() && answer.status >= 200 && answer.status < 300;
  if (json && answer.error.empty()) {
    std::printf(
        "%s\n",
        nlohmann::json{{"status", answer.status}, {"payload", answer.payload}}.dump(2).c_str());
  } else if (ok) {
    std::printf("status %d\n%s\n", answer.status, answer.payload.dump(2).c_str());
  }
  if (!ok) {
    std::fprintf(stderr, "fieldlinkctl: %s: %s\n", what.c_str(), describe_answer(answer).c_str());
  }
  return ok ? kExitOk : kExitFailed;
}

std::optional<std::string> read_body(const std::string& arg, std::string& error) {
  if (!arg.starts_with('@')) return arg;
  const auto file = arg.substr(1);
  std::stringstream text;
  if (file == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error = "cannot read " + file;
    return std::nullopt;
  }
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int run_invoke(const Words& words) {
  const auto parsed =
      parse_args(words, with_common_options({{"--timeout", true}, {"--json", false}}));
  if (!parsed.error.empty()) return usage_error(parsed.error);
  const auto& pos = parsed.args.positional;
  if (pos.size() < 2 || pos.size() > 3) {
    return usage_error("invoke takes IDENTITY METHOD [JSON]");
  }
  std::optional<long> seconds;
  if (const auto t = parsed.args.value("--timeout")) {
    char* end = nullptr;
    seconds = std::strtol(t->c_str(), &end, 10);
    if (end == t->c_str() || *end != '\0' || *seconds < 1 || *seconds > kMaxTimeout) {
      return usage_error("--timeout is whole seconds from 1 to 300, got '" + *t + "'");
    }
  }
  const std::string payload = pos.size() == 3 ? pos[2] : "";
  if (!payload.empty() && nlohmann::json::parse(payload, nullptr, false).is_discarded()) {
    return usage_error("the payload is not JSON: " + payload);
  }
  LocalDaemon daemon(parsed.args);
  long wait = kMaxTimeout;
  if (seconds) {
    wait = *seconds;
  } else if (const auto* c = daemon.config()) {
    wait = static_cast<long>(
        std::chrono::duration_cast<std::chrono::seconds>(c->hub.method_timeout).count());
  }
  return post_and_print(daemon, invoke_path(pos[0], pos[1], seconds), payload,
                        std::chrono::seconds(wait) + kExchangeMargin, parsed.args.has("--json"),
                        "method " + pos[1] + " on " + pos[0]);
}

int run_send_c2d(const Words& words) {
  const auto parsed =
      parse_args(words, with_common_options({{"--property", true, true}, {"--json", false}}));
  if (!parsed.error.empty()) return usage_error(parsed.error);
  const auto& pos = parsed.args.positional;
  if (pos.size() != 2) return usage_error("send-c2d takes IDENTITY BODY (or @FILE, @- for stdin)");
  const auto properties = parsed.args.all("--property");
  for (const auto& p : properties) {
    if (auto why = check_property(p); !why.empty()) return usage_error(why);
  }
  std::string error;
  const auto body = read_body(pos[1], error);
  if (!body) return usage_error(error);
  LocalDaemon daemon(parsed.args);
  return post_and_print(daemon, c2d_path(pos[0], properties), *body, std::chrono::seconds(30),
                        parsed.args.has("--json"), "C2D message to " + pos[0]);
}

}  // namespace fieldlink::ctl
