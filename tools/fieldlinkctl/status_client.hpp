#pragma once
// Fetches one page of the local daemon's status endpoint over TCP or a unix socket.
#include <string>

namespace fieldlink::ctl {

struct HttpReply {
  int status = 0;
  std::string body;
  std::string error;  // set when the daemon could not be reached or answered garbage
};

// `url` is "http://127.0.0.1:8086" or "unix:/run/fieldlink/status.sock"; `path` e.g. "/status".
HttpReply http_get(const std::string& url, const std::string& path);

}  // namespace fieldlink::ctl
