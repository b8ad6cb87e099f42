#pragma once
// Fetches one page of the local daemon's status endpoint over TCP or a unix socket, or posts a
// request to its control socket.
#include <chrono>
#include <string>

namespace fieldlink::ctl {

struct HttpReply {
  int status = 0;
  std::string body;
  std::string error;  // set when the daemon could not be reached or answered garbage
};

// `url` is "http://127.0.0.1:8086" or "unix:/run/fieldlink/status.sock"; `path` e.g. "/status".
HttpReply http_get(const std::string& url, const std::string& path);

// POST `body` to `path`; `timeout` bounds the whole exchange (a method may take its own timeout).
HttpReply http_post(const std::string& url, const std::string& path, const std::string& body,
                    std::chrono::seconds timeout);

}  // namespace fieldlink::ctl
