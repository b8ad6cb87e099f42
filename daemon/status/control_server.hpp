#pragma once
// The local control socket (control.listen, off by default): a small HTTP/1.1 API on a unix
// socket through which fieldlinkctl invokes methods and sends C2D messages to devices without
// the hub (control_request.hpp lists the requests). Never TCP. The socket is made mode 0660 with
// the daemon's group, and every connection's peer is checked (peer_access.hpp) before its
// request is read; a refused peer is logged and answered 403.
//
// It lives in daemon/status/ beside the status endpoint because it is the same kind of thing —
// a bounded HTTP server on the core loop, and both run on the one in http_listener.hpp (this one
// with its own limits and the peer check) — and it knows nothing of the router: the composition
// root hands it a handler that turns a request into the router's downlink. daemon/service/ is about
// the process's life.
//
// Every answer is JSON {"status": N, "payload": …}, with HTTP status N (502 when a device's own
// status is not an HTTP one). Thread: every member, the handler and its reply, on the core loop.
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "core/log.hpp"
#include "status/control_request.hpp"

namespace boost::asio {
class io_context;
}

namespace fieldlink {

class ControlServer {
 public:
  // Called at most once per request; a reply after the client went away is dropped.
  using Reply = std::function<void(int status, const nlohmann::json& payload)>;
  using Handler = std::function<void(ControlRequest request, Reply reply)>;

  ControlServer(boost::asio::io_context& loop, Handler handler, Logger& log);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Serves on `where` (nothing when off); empty on success, otherwise why not. A socket file
  // left by a crashed daemon is replaced; one a live process still serves is not.
  std::string open(const config::ControlListen& where);
  // Stops accepting, closes open connections and removes the socket file.
  void close();
  // The socket's path, or empty when off.
  std::string path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fieldlink
