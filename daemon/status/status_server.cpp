#include "status/status_server.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <sys/stat.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <list>
#include <variant>

namespace fieldlink {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

constexpr std::uint32_t kHeaderLimit = 8 * 1024;
constexpr std::uint64_t kBodyLimit = 0;  // GET only: any request body is refused
constexpr auto kReadTimeout = 5s;
constexpr auto kWriteTimeout = 5s;
constexpr size_t kMaxConnections = 16;

using Response = http::response<http::string_body>;

Response route(const StatusBoard& board, const http::request<http::string_body>& req) {
  Response res;
  res.version(req.version());
  res.keep_alive(req.keep_alive());
  res.set(http::field::server, "fieldlinkd");
  res.set(http::field::cache_control, "no-store");
  std::string_view target(req.target().data(), req.target().size());
  target = target.substr(0, target.find('?'));
  const bool known = target == "/healthz" || target == "/status" || target == "/metrics";
  if (!known) {
    res.result(http::status::not_found);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = "not found; try /healthz, /status or /metrics\n";
  } else if (req.method() != http::verb::get && req.method() != http::verb::head) {
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, "GET, HEAD");
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = "only GET\n";
  } else if (target == "/healthz") {
    const auto problems = board.problems();
    res.result(problems.empty() ? http::status::ok : http::status::service_unavailable);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    if (problems.empty()) {
      res.body() = "ok\n";
    } else {
      for (const auto& p : problems)
        res.body() += p + "\n";
    }
  } else if (target == "/status") {
    res.result(http::status::ok);
    res.set(http::field::content_type, "application/json");
    res.body() = board.status().dump(2) + "\n";
  } else {
    res.result(http::status::ok);
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = board.metrics();
  }
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  return res;
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
  Connection(typename Protocol::socket socket, const StatusBoard& board, std::function<void()> gone)
      : stream_(std::move(socket)), board_(board), gone_(std::move(gone)) {}
  ~Connection() override { gone_(); }

  void start() { read(); }
  void shut() override { stream_.close(); }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    stream_.expires_after(kReadTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::header_limit || ec == http::error::body_limit) {
      return reply_error(http::status::payload_too_large, "request too large\n");
    }
    if (ec) return stream_.close();  // timeout, client gone, or garbage: nothing to answer
    res_ = route(board_, parser_->get());
    write();
  }

  void reply_error(http::status status, std::string body) {
    res_ = {};
    res_.result(status);
    res_.keep_alive(false);
    res_.set(http::field::content_type, "text/plain; charset=utf-8");
    res_.body() = std::move(body);
    res_.prepare_payload();
    write();
  }

  void write() {
    stream_.expires_after(kWriteTimeout);
    http::async_write(stream_, res_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        if (ec || !self->res_.keep_alive()) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(Protocol::socket::shutdown_send, ignored);
                          return self->stream_.close();
                        }
                        self->read();
                      });
  }

  beast::basic_stream<Protocol> stream_;
  beast::flat_buffer buffer_{kHeaderLimit};
  std::optional<http::request_parser<http::string_body>> parser_;
  Response res_;
  const StatusBoard& board_;
  std::function<void()> gone_;
};

}  // namespace

struct StatusServer::Impl {
  asio::io_context& loop;
  const StatusBoard& board;
  Logger& log;
  std::variant<std::monostate, asio::ip::tcp::acceptor, asio::local::stream_protocol::acceptor>
      acceptor;
  std::list<std::weak_ptr<ConnectionBase>> connections;
  std::string unix_path;
  std::string url;

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
    if (connections.size() >= kMaxConnections) {
      log.warning({.event = "status.connection_refused"},
                  "status endpoint: too many open connections, refusing one");
      return;  // the socket closes as it goes out of scope
    }
    auto c = std::make_shared<Connection<Protocol>>(std::move(socket), board, [] {});
    connections.push_back(c);
    c->start();
  }
};

StatusServer::StatusServer(asio::io_context& loop, const StatusBoard& board, Logger& log)
    : impl_(std::make_unique<Impl>(Impl{loop, board, log, {}, {}, {}, {}})) {}

StatusServer::~StatusServer() {
  close();
}

std::string StatusServer::open(const config::ListenAddress& where) {
  close();
  beast::error_code ec;
  if (const auto* t = std::get_if<config::ListenAddress::Tcp>(&where.where)) {
    auto addr = t->host == "localhost" ? asio::ip::make_address("127.0.0.1")
                                       : asio::ip::make_address(t->host, ec);
    if (ec) return "bad address " + t->host + ": " + ec.message();
    auto& a = impl_->acceptor.emplace<asio::ip::tcp::acceptor>(impl_->loop);
    const asio::ip::tcp::endpoint ep(addr, t->port);
    if (!a.open(ep.protocol(), ec) && !a.set_option(asio::socket_base::reuse_address(true), ec) &&
        !a.bind(ep, ec) && !a.listen(asio::socket_base::max_listen_connections, ec)) {
      const auto bound = a.local_endpoint();
      const bool v6 = bound.address().is_v6();
      impl_->url = "http://" + std::string(v6 ? "[" : "") + bound.address().to_string() +
                   (v6 ? "]" : "") + ":" + std::to_string(bound.port()) + "/";
      impl_->accept(a);
      return {};
    }
    impl_->acceptor = std::monostate{};
    return "cannot listen on " + config::format_listen(where) + ": " + ec.message();
  }
  const auto& path = std::get<config::ListenAddress::Unix>(where.where).path;
  std::error_code fs_ec;
  // A socket file left by a previous run (after a crash) would make bind fail forever.
  if (std::filesystem::is_socket(path, fs_ec)) std::filesystem::remove(path, fs_ec);
  auto& a = impl_->acceptor.emplace<asio::local::stream_protocol::acceptor>(impl_->loop);
  const asio::local::stream_protocol::endpoint ep(path);
  if (!a.open(ep.protocol(), ec) && !a.bind(ep, ec) &&
      !a.listen(asio::socket_base::max_listen_connections, ec)) {
    ::chmod(path.c_str(), 0660);
    impl_->unix_path = path;
    impl_->url = "unix:" + path;
    impl_->accept(a);
    return {};
  }
  impl_->acceptor = std::monostate{};
  return "cannot listen on " + config::format_listen(where) + ": " + ec.message();
}

void StatusServer::close() {
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
  impl_->url.clear();
}

std::string StatusServer::url() const {
  return impl_->url;
}

}  // namespace fieldlink
