#include "control_call.hpp"

#include <cctype>
#include <cstdio>

namespace fieldlink::ctl {
namespace {

std::string encode(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

}  // namespace

std::string invoke_path(const std::string& identity, const std::string& method,
                        std::optional<long> timeout_seconds) {
  auto path = "/devices/" + encode(identity) + "/methods/" + encode(method);
  if (timeout_seconds) path += "?timeout=" + std::to_string(*timeout_seconds) + "s";
  return path;
}

std::string c2d_path(const std::string& identity, const std::vector<std::string>& properties) {
  auto path = "/devices/" + encode(identity) + "/c2d";
  char sep = '?';
  for (const auto& p : properties) {
    path += sep + std::string("property=") + encode(p);
    sep = '&';
  }
  return path;
}

std::string check_property(const std::string& property) {
  const auto eq = property.find('=');
  if (eq == std::string::npos || eq == 0) {
    return "--property takes KEY=VALUE, got '" + property + "'";
  }
  return {};
}

ControlAnswer read_answer(int http_status, const std::string& body) {
  ControlAnswer a;
  const auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("status") ||
      !doc["status"].is_number_integer()) {
    a.status = http_status;
    a.error = "the control socket answered HTTP " + std::to_string(http_status) +
              " without its JSON answer; is that fieldlinkd?";
    return a;
  }
  a.status = doc["status"].get<int>();
  a.payload = doc.contains("payload") ? doc["payload"] : nlohmann::json();
  return a;
}

std::string describe_answer(const ControlAnswer& answer) {
  if (!answer.error.empty()) return answer.error;
  std::string text = "status " + std::to_string(answer.status);
  if (answer.payload.is_object() && answer.payload.contains("error") &&
      answer.payload["error"].is_string()) {
    return text + ": " + answer.payload["error"].get<std::string>();
  }
  if (!answer.payload.is_null()) text += ": " + answer.payload.dump();
  return text;
}

std::optional<std::string> control_url(const config::ControlListen& listen) {
  if (!listen.on()) return std::nullopt;
  return "unix:" + listen.path;
}

std::string control_off_message(const std::string& config_path) {
  return "control.listen is not set in " + config_path +
         ", so fieldlinkd has no control socket (it is off by default)\n"
         "  set `control: { listen: unix:/run/fieldlink/control.sock }` and run `fieldlinkctl "
         "reload`; see docs/operations.md\n";
}

std::string control_unreachable_message(const std::string& url, const std::string& error) {
  std::string text = "cannot reach fieldlinkd's control socket " + url + ": " + error + "\n";
  if (error.find("ermission") != std::string::npos) {
    text +=
        "  the socket is for root, the daemon's user and its group: run as root or join the "
        "socket's group (ls -l " +
        url.substr(5) + ")\n";
  } else {
    text +=
        "  is fieldlinkd running (`systemctl status fieldlinkd`)? A control.listen set after "
        "it started takes effect after `fieldlinkctl reload`\n";
  }
  return text;
}

}  // namespace fieldlink::ctl
