#pragma once
// Where the daemon's status endpoint is, and what to say when nothing answers there.
#include <string>

#include "config/value_types.hpp"

namespace fieldlink::ctl {

inline constexpr const char* kDefaultConfig = "/etc/fieldlink/fieldlink.yaml";
inline constexpr const char* kDefaultUrl = "http://127.0.0.1:8086";

// status.listen → the URL fieldlinkctl connects to ("http://127.0.0.1:8086", "unix:/run/x.sock").
// Port 0 (any free port) cannot be found from the config: the error says to pass --url.
std::string url_from_listen(const config::ListenAddress& listen, std::string& error);

// "fieldlinkd is not running: cannot reach fieldlinkd at URL: Connection refused" and what to do.
std::string unreachable_message(const std::string& url, const std::string& error);

}  // namespace fieldlink::ctl
