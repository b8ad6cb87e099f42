#include "daemon_endpoint.hpp"

#include <variant>

namespace fieldlink::ctl {

std::string url_from_listen(const config::ListenAddress& listen, std::string& error) {
  if (const auto* u = std::get_if<config::ListenAddress::Unix>(&listen.where)) {
    return "unix:" + u->path;
  }
  const auto& t = std::get<config::ListenAddress::Tcp>(listen.where);
  if (t.port == 0) {
    error =
        "status.listen uses port 0 (any free port), so the port is only in the daemon's log "
        "and STATUS=; pass --url";
    return {};
  }
  return "http://" + config::format_listen(listen);
}

std::string unreachable_message(const std::string& url, const std::string& error) {
  const bool refused =
      error.find("refused") != std::string::npos || error.find("No such file") != std::string::npos;
  std::string text = refused ? "fieldlinkd is not running: " : "fieldlinkd does not answer: ";
  text += "cannot reach fieldlinkd at " + url + ": " + error + "\n";
  text += refused ? "  start it with `systemctl start fieldlinkd`; if it runs, check that --url or "
                    "the config's status.listen match\n"
                  : "  check `systemctl status fieldlinkd` and `journalctl -u fieldlinkd`\n";
  return text;
}

}  // namespace fieldlink::ctl
