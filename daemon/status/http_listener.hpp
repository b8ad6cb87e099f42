#pragma once
// One bounded HTTP/1.1 server on the core loop, shared by the status endpoint and the control
// socket: accept, read one request under a header and body limit and a deadline, hand it to the
// owner's handler, write the answer under a deadline, keep the connection or close it, and cap
// the connections open at once — so a stuck or hostile client can neither hold the loop nor grow
// memory. When accept itself fails (out of fds or kernel memory) it pauses before trying again,
// longer while failures go on, rather than spin the loop. What to answer is all the owner's (the
// handler); so is opening the socket, since the two owners bind differently on purpose (status:
// TCP or unix; control: unix only, stricter about a socket file another process still serves).
// Thread: every member, the handler and its respond, on the core loop.
#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/log.hpp"

namespace fieldlink {

class HttpListener {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;
  // Called at most once per request; an answer after the client went away is dropped.
  using Respond = std::function<void(Response)>;

  // Who is on the other end, as the owner's `identify` found it at accept (empty without one).
  struct Peer {
    std::string who;      // for the owner's log, e.g. "uid 1000 (pid 4242)"
    std::string refused;  // non-empty: the owner will not serve this peer, and why
  };
  using Identify = std::function<Peer(int native_socket)>;
  using Handler = std::function<void(Request request, const Peer& peer, Respond respond)>;

  // The two owners differ here on purpose: the control socket takes bodies (a C2D message) and
  // gives a slow client longer; the status endpoint takes no body and more readers at once.
  struct Limits {
    std::uint32_t header_bytes = 8 * 1024;
    std::uint64_t body_bytes = 0;
    std::chrono::seconds read_timeout{5};
    std::chrono::seconds write_timeout{5};
    std::size_t max_connections = 16;
    // Sent (and the connection closed) when a request is over header_bytes or body_bytes.
    Response too_large;
    // For the log line when max_connections refuses one: "<name>: too many open connections".
    // A failed accept is logged as "<owner>.accept_failed", the owner taken from refused_event.
    std::string name;           // "status endpoint"
    std::string refused_event;  // "status.connection_refused"
  };

  HttpListener(boost::asio::io_context& loop, Limits limits, Handler handler, Logger& log,
               Identify identify = {});
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Starts accepting on a listening acceptor. `remove_on_close` is the socket file to delete
  // when closed (ours to remove, not the listener's to judge).
  void serve(boost::asio::ip::tcp::acceptor acceptor);
  void serve(boost::asio::local::stream_protocol::acceptor acceptor, std::string remove_on_close);
  // Stops accepting, closes open connections and removes the socket file, if any.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fieldlink
