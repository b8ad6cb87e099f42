#pragma once
// The HTTP status endpoint on the core loop: GET /healthz, /status, /metrics (design.md §7).
// Read-only, loopback or unix socket only (the config refuses anything else), bounded: a request
// header limit, no bodies, a read deadline and a cap on open connections, so a stuck or hostile
// client cannot hold the loop or grow memory (http_listener.hpp). /status's query picks compact,
// indented or summarised output (status_query.hpp).
// Thread: every member on the core loop.
#include <memory>
#include <string>

#include "config/value_types.hpp"
#include "core/log.hpp"
#include "status/status_board.hpp"

namespace boost::asio {
class io_context;
}

namespace fieldlink {

class StatusServer {
 public:
  StatusServer(boost::asio::io_context& loop, const StatusBoard& board, Logger& log);
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // Binds and starts serving; an empty string on success, otherwise why not (e.g. port in use).
  std::string open(const config::ListenAddress& where);
  // Stops accepting and closes open connections.
  void close();
  // Where a client reaches it: "http://127.0.0.1:8086/" or "unix:/run/fieldlink/status.sock".
  std::string url() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fieldlink
