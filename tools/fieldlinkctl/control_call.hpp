#pragma once
// `invoke` and `send-c2d` against the daemon's control socket (control.listen): the request paths
// they post, and what an answer means for the person at the console. Pure: no I/O.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"

namespace fieldlink::ctl {

// "/devices/boiler-3/methods/reset?timeout=10s"; the identity ("dev" or "dev/module") and the
// name are percent-encoded, so a module's slash stays inside one path segment.
std::string invoke_path(const std::string& identity, const std::string& method,
                        std::optional<long> timeout_seconds);
// "/devices/boiler-3/c2d?property=k%3Dv&property=…"; each property is "KEY=VALUE".
std::string c2d_path(const std::string& identity, const std::vector<std::string>& properties);

// Empty when `property` is KEY=VALUE with a non-empty key; otherwise the usage error.
std::string check_property(const std::string& property);

// What the daemon answered: {"status": N, "payload": …}.
struct ControlAnswer {
  int status = 0;
  nlohmann::json payload;
  std::string error;  // the daemon's answer was not one of ours
};
ControlAnswer read_answer(int http_status, const std::string& body);

// One line for the console: "status 504: the device did not answer within 3s".
std::string describe_answer(const ControlAnswer& answer);

// The socket the config names; nullopt when control.listen is off.
std::optional<std::string> control_url(const config::ControlListen& listen);
// Said when control.listen is off in `config_path`.
std::string control_off_message(const std::string& config_path);
// Said when nothing answers on the socket.
std::string control_unreachable_message(const std::string& url, const std::string& error);

}  // namespace fieldlink::ctl
