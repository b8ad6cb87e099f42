#include "status/http_listener.hpp"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <list>
#include <optional>
#include <variant>

namespace fieldlink {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

// The pause before accepting again after a failed accept. Short at first, so a brief fd
// shortage costs a waiting client little; doubled while failures go on, up to a second, so a
// long one costs the loop one try a second; back to short after the next accept succeeds.
constexpr std::chrono::milliseconds kFirstAcceptPause = 100ms;
constexpr std::chrono::milliseconds kLongestAcceptPause = 1s;

// The owners name their events "<owner>.<what>" (Limits::refused_event); the listener's own
// events follow, so the operator can tell the status endpoint's from the control socket's
// without either owner having to name each one.
std::string sibling_event(const std::string& event, std::string_view what) {
  const auto dot = event.find('.');
  return (dot == std::string::npos ? std::string("http_listener") : event.substr(0, dot)) + "." +
         std::string(what);
}

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  virtual void shut() = 0;
};

template <class Protocol>
class Connection : public ConnectionBase,
                   public std::enable_shared_from_this<Connection<Protocol>> {
 public:
  Connection(typename Protocol::socket socket, std::shared_ptr<const HttpListener::Limits> limits,
             HttpListener::Handler handler, HttpListener::Peer peer)
      : stream_(std::move(socket)),
        buffer_(limits->header_bytes),
        limits_(std::move(limits)),
        handler_(std::move(handler)),
        peer_(std::move(peer)) {}

  void start() { read(); }
  void shut() override { stream_.close(); }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(limits_->header_bytes);
    parser_->body_limit(limits_->body_bytes);
    stream_.expires_after(limits_->read_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::header_limit || ec == http::error::body_limit) {
      res_ = limits_->too_large;
      res_.keep_alive(false);
      return write();
    }
    if (ec) return shut();  // timeout, client gone, or garbage: nothing to answer
    // No deadline while the handler works: it bounds its own work (the router a method by its
    // timeout, a C2D message by the journal's commit); the answer's write has one again.
    stream_.expires_never();
    handler_(
        parser_->release(), peer_,
        [self = this->shared_from_this(), answered = false](HttpListener::Response res) mutable {
          if (std::exchange(answered, true)) return;
          self->res_ = std::move(res);
          self->write();
        });
  }

  void write() {
    stream_.expires_after(limits_->write_timeout);
    http::async_write(stream_, res_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        if (ec || !self->res_.keep_alive()) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(Protocol::socket::shutdown_send, ignored);
                          return self->shut();
                        }
                        self->read();
                      });
  }

  beast::basic_stream<Protocol> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpListener::Response res_;
  // Shared, not borrowed: a control request's answer may come after the listener is gone.
  std::shared_ptr<const HttpListener::Limits> limits_;
  HttpListener::Handler handler_;
  HttpListener::Peer peer_;
};

}  // namespace

struct HttpListener::Impl {
  Impl(asio::io_context& io, Limits l, Handler h, Logger& logger, Identify id)
      : loop(io),
        limits(std::make_shared<const Limits>(std::move(l))),
        handler(std::move(h)),
        log(logger),
        identify(std::move(id)),
        accept_failed_event(sibling_event(limits->refused_event, "accept_failed")),
        accepting_again_event(sibling_event(limits->refused_event, "accepting_again")),
        pause(io) {}

  asio::io_context& loop;
  std::shared_ptr<const Limits> limits;
  Handler handler;
  Logger& log;
  Identify identify;
  std::string accept_failed_event;
  std::string accepting_again_event;
  std::variant<std::monostate, asio::ip::tcp::acceptor, asio::local::stream_protocol::acceptor>
      acceptor;
  std::list<std::weak_ptr<ConnectionBase>> connections;
  std::string unix_path;
  // Held while serving; the accept and pause handlers hold it weakly and do nothing once it is
  // gone. Cancelling is not enough: a completion already queued on the loop (an accept that
  // succeeded, a pause that ran out) still runs after close(), or after this Impl is freed.
  std::shared_ptr<const bool> serving;
  // After a failed accept (see pause_then_accept).
  asio::steady_timer pause;
  std::chrono::milliseconds next_pause = kFirstAcceptPause;
  std::uint64_t failed_in_a_row = 0;

  template <class Acceptor>
  void accept(Acceptor& a) {
    using Protocol = typename Acceptor::protocol_type;
    a.async_accept([this, &a, alive = std::weak_ptr(serving)](beast::error_code ec,
                                                              typename Protocol::socket socket) {
      if (alive.expired() || ec == asio::error::operation_aborted) return;
      if (ec) return pause_then_accept(a, ec);
      if (failed_in_a_row > 0) {
        log.notice({.event = accepting_again_event},
                   limits->name + ": accepting connections again after " +
                       std::to_string(failed_in_a_row) + " failed accepts");
      }
      failed_in_a_row = 0;
      next_pause = kFirstAcceptPause;
      admit<Protocol>(std::move(socket));
      accept(a);
    });
  }

  // Out of fds (EMFILE, ENFILE) or kernel memory (ENOBUFS, ENOMEM), accept fails but leaves the
  // connection in the backlog, so the acceptor is ready again at once: accepting again straight
  // away would spin the core loop, starving the hub sessions, for as long as the shortage lasts.
  // Every failure is logged; the service logger's per-event rate limit keeps a long shortage
  // to a few lines per window and counts the rest.
  template <class Acceptor>
  void pause_then_accept(Acceptor& a, const beast::error_code& error) {
    ++failed_in_a_row;
    log.warning({.event = accept_failed_event}, limits->name + ": accepting a connection failed (" +
                                                    error.message() + "); accepting resumes in " +
                                                    std::to_string(next_pause.count()) + " ms");
    pause.expires_after(next_pause);
    next_pause = std::min(next_pause * 2, kLongestAcceptPause);
    pause.async_wait([this, &a, alive = std::weak_ptr(serving)](beast::error_code ec) {
      if (alive.expired() || ec == asio::error::operation_aborted) return;
      accept(a);
    });
  }

  template <class Protocol>
  void admit(typename Protocol::socket socket) {
    std::erase_if(connections, [](const auto& w) { return w.expired(); });
    if (connections.size() >= limits->max_connections) {
      log.warning({.event = limits->refused_event},
                  limits->name + ": too many open connections, refusing one");
      return;  // the socket closes as it goes out of scope
    }
    Peer peer = identify ? identify(socket.native_handle()) : Peer{};
    auto c =
        std::make_shared<Connection<Protocol>>(std::move(socket), limits, handler, std::move(peer));
    connections.push_back(c);
    c->start();
  }
};

HttpListener::HttpListener(asio::io_context& loop, Limits limits, Handler handler, Logger& log,
                           Identify identify)
    : impl_(std::make_unique<Impl>(loop, std::move(limits), std::move(handler), log,
                                   std::move(identify))) {}

HttpListener::~HttpListener() {
  close();
}

void HttpListener::serve(asio::ip::tcp::acceptor acceptor) {
  close();
  impl_->serving = std::make_shared<const bool>(true);
  impl_->accept(impl_->acceptor.emplace<asio::ip::tcp::acceptor>(std::move(acceptor)));
}

void HttpListener::serve(asio::local::stream_protocol::acceptor acceptor,
                         std::string remove_on_close) {
  close();
  impl_->serving = std::make_shared<const bool>(true);
  impl_->unix_path = std::move(remove_on_close);
  impl_->accept(
      impl_->acceptor.emplace<asio::local::stream_protocol::acceptor>(std::move(acceptor)));
}

void HttpListener::close() {
  impl_->serving.reset();
  impl_->pause.cancel();
  impl_->next_pause = kFirstAcceptPause;
  impl_->failed_in_a_row = 0;
  std::visit(
      [](auto& a) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(a)>, std::monostate>) {
          beast::error_code ignored;
          a.close(ignored);
        }
      },
      impl_->acceptor);
  impl_->acceptor = std::monostate{};
  for (auto& w : impl_->connections) {
    if (auto c = w.lock()) c->shut();
  }
  impl_->connections.clear();
  if (!impl_->unix_path.empty()) {
    std::error_code ignored;
    std::filesystem::remove(impl_->unix_path, ignored);
    impl_->unix_path.clear();
  }
}

}  // namespace fieldlink
