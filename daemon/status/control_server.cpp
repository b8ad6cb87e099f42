#include "status/control_server.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <list>

#include "status/peer_access.hpp"

namespace fieldlink {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Protocol = asio::local::stream_protocol;
using namespace std::chrono_literals;

constexpr std::uint32_t kHeaderLimit = 8 * 1024;
// IoT Hub's own limits: 256 KiB for a C2D message, 128 KiB for a method payload.
constexpr std::uint64_t kBodyLimit = 256 * 1024;
constexpr auto kReadTimeout = 10s;
constexpr auto kWriteTimeout = 5s;
constexpr size_t kMaxConnections = 8;

int http_status_of(int status) {
  return status >= 200 && status <= 599 ? status : 502;
}

std::string describe(const ControlRequest& r) {
  auto id = r.module_id.empty() ? r.device_id : r.device_id + "/" + r.module_id;
  return r.kind == ControlRequest::Kind::method ? "method " + r.name + " on " + id
                                                : "C2D message to " + id;
}

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Protocol::socket socket, const ControlServer::Handler& handler, Logger& log,
             std::string peer, std::string refused)
      : stream_(std::move(socket)),
        handler_(handler),
        log_(log),
        peer_(std::move(peer)),
        refused_(std::move(refused)) {}

  void start() { read(); }
  void shut() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    stream_.expires_after(kReadTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::header_limit || ec == http::error::body_limit) {
      return answer(413, {{"error", "request too large (body at most 256 KiB)"}}, false);
    }
    if (ec) return shut();  // timeout, client gone, or garbage: nothing to answer
    if (!refused_.empty()) return answer(403, {{"error", refused_}}, false);
    auto req = parser_->release();
    keep_alive_ = req.keep_alive();
    auto parsed = parse_control_request(
        std::string_view(req.method_string().data(), req.method_string().size()),
        std::string_view(req.target().data(), req.target().size()), std::move(req.body()));
    if (!parsed.request) {
      return answer(parsed.refusal.status, {{"error", parsed.refusal.error}}, keep_alive_);
    }
    const auto what = describe(*parsed.request);
    // No read deadline while the device works on it: the router bounds a method by its
    // timeout and a C2D message by the journal's commit.
    stream_.expires_never();
    handler_(std::move(*parsed.request), [self = shared_from_this(), what, answered = false](
                                             int status, const nlohmann::json& payload) mutable {
      if (std::exchange(answered, true)) return;
      self->log_.notice({.event = "control.request"}, "control socket: " + what + " from " +
                                                          self->peer_ + " answered " +
                                                          std::to_string(status));
      self->answer(status, payload, self->keep_alive_);
    });
  }

  void answer(int status, const nlohmann::json& payload, bool keep_alive) {
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(http_status_of(status)));
    res_.keep_alive(keep_alive);
    res_.set(http::field::server, "fieldlinkd");
    res_.set(http::field::content_type, "application/json");
    res_.body() = nlohmann::json{{"status", status}, {"payload", payload}}.dump() + "\n";
    res_.prepare_payload();
    stream_.expires_after(kWriteTimeout);
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec || !self->res_.keep_alive()) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(Protocol::socket::shutdown_send, ignored);
        return self->shut();
      }
      self->read();
    });
  }

  beast::basic_stream<Protocol> stream_;
  beast::flat_buffer buffer_{kHeaderLimit};
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  const ControlServer::Handler& handler_;
  Logger& log_;
  std::string peer_;     // "uid 1000 (pid 4242)", for the log: who did what
  std::string refused_;  // non-empty: the peer may not use the socket, answered 403
  bool keep_alive_ = false;
};

// A socket file whose server is gone answers connect() with ECONNREFUSED; a live one accepts.
bool served_by_someone(const std::string& path) {
  asio::io_context io;
  Protocol::socket probe(io);
  beast::error_code ec;
  probe.connect(Protocol::endpoint(path), ec);
  return !ec;
}

}  // namespace

struct ControlServer::Impl {
  asio::io_context& loop;
  Handler handler;
  Logger& log;
  std::optional<Protocol::acceptor> acceptor;
  std::list<std::weak_ptr<Connection>> connections;
  std::string path;
  PeerPolicy policy;

  void accept() {
    acceptor->async_accept([this](beast::error_code ec, Protocol::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) admit(std::move(socket));
      accept();
    });
  }

  void admit(Protocol::socket socket) {
    std::erase_if(connections, [](const auto& w) { return w.expired(); });
    if (connections.size() >= kMaxConnections) {
      log.warning({.event = "control.connection_refused"},
                  "control socket: too many open connections, refusing one");
      return;  // the socket closes as it goes out of scope
    }
    std::string error;
    std::string refused;
    std::string who = "an unknown peer";
    if (const auto peer = peer_credentials(socket.native_handle(), error)) {
      refused = refuse_peer(*peer, policy);
      who = "uid " + std::to_string(peer->uid) + " (pid " + std::to_string(peer->pid) + ")";
    } else {
      refused = "the peer's credentials are unknown (" + error + ")";
    }
    if (!refused.empty()) {
      log.warning({.event = "control.peer_refused"}, "control socket: refused " + refused);
    }
    auto c = std::make_shared<Connection>(std::move(socket), handler, log, std::move(who),
                                          std::move(refused));
    connections.push_back(c);
    c->start();
  }
};

ControlServer::ControlServer(asio::io_context& loop, Handler handler, Logger& log)
    : impl_(std::make_unique<Impl>(Impl{loop, std::move(handler), log, {}, {}, {}, {}})) {}

ControlServer::~ControlServer() {
  close();
}

std::string ControlServer::open(const config::ControlListen& where) {
  close();
  if (!where.on()) return {};
  const auto& path = where.path;
  std::error_code fs_ec;
  if (std::filesystem::is_socket(path, fs_ec)) {
    if (served_by_someone(path)) {
      return "cannot listen on unix:" + path + ": another process serves it (a second fieldlinkd?)";
    }
    std::filesystem::remove(path, fs_ec);  // left by a crashed run
  }
  auto& a = impl_->acceptor.emplace(impl_->loop);
  const Protocol::endpoint ep(path);
  beast::error_code ec;
  std::string failed;
  bool bound = false;
  // The mode is set between bind and listen: before listen nobody can connect, so there is no
  // moment with the umask's looser mode.
  if (a.open(ep.protocol(), ec) || a.bind(ep, ec)) {
    failed = ec.message();
  } else {
    bound = true;
    if (::chmod(path.c_str(), 0660) != 0) {
      failed = std::string("chmod 0660: ") + std::strerror(errno);
    } else if (a.listen(asio::socket_base::max_listen_connections, ec)) {
      failed = ec.message();
    }
  }
  struct stat st {};
  if (failed.empty() && ::stat(path.c_str(), &st) != 0) failed = std::strerror(errno);
  if (!failed.empty()) {
    impl_->acceptor.reset();
    if (bound) std::filesystem::remove(path, fs_ec);  // ours; anything else stays
    return "cannot listen on unix:" + path + ": " + failed;
  }
  impl_->policy = PeerPolicy{::geteuid(), st.st_gid};
  impl_->path = path;
  impl_->accept();
  return {};
}

void ControlServer::close() {
  if (impl_->acceptor) {
    beast::error_code ignored;
    impl_->acceptor->close(ignored);
    impl_->acceptor.reset();
  }
  for (auto& w : impl_->connections) {
    if (auto c = w.lock()) c->shut();
  }
  impl_->connections.clear();
  if (!impl_->path.empty()) {
    std::error_code ignored;
    std::filesystem::remove(impl_->path, ignored);
    impl_->path.clear();
  }
}

std::string ControlServer::path() const {
  return impl_->path;
}

}  // namespace fieldlink
