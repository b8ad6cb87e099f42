#include "status/http_listener.hpp"

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
  asio::io_context& loop;
  std::shared_ptr<const Limits> limits;
  Handler handler;
  Logger& log;
  Identify identify;
  std::variant<std::monostate, asio::ip::tcp::acceptor, asio::local::stream_protocol::acceptor>
      acceptor;
  std::list<std::weak_ptr<ConnectionBase>> connections;
  std::string unix_path;

  template <class Acceptor>
  void accept(Acceptor& a) {
    using Protocol = typename Acceptor::protocol_type;
    a.async_accept([this, &a](beast::error_code ec, typename Protocol::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) admit<Protocol>(std::move(socket));
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
    : impl_(std::make_unique<Impl>(Impl{loop,
                                        std::make_shared<const Limits>(std::move(limits)),
                                        std::move(handler),
                                        log,
                                        std::move(identify),
                                        {},
                                        {},
                                        {}})) {}

HttpListener::~HttpListener() {
  close();
}

void HttpListener::serve(asio::ip::tcp::acceptor acceptor) {
  close();
  impl_->accept(impl_->acceptor.emplace<asio::ip::tcp::acceptor>(std::move(acceptor)));
}

void HttpListener::serve(asio::local::stream_protocol::acceptor acceptor,
                         std::string remove_on_close) {
  close();
  impl_->unix_path = std::move(remove_on_close);
  impl_->accept(
      impl_->acceptor.emplace<asio::local::stream_protocol::acceptor>(std::move(acceptor)));
}

void HttpListener::close() {
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
