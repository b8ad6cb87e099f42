#include "status/control_server.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "status/http_listener.hpp"
#include "status/peer_access.hpp"

namespace fieldlink {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Protocol = asio::local::stream_protocol;
using namespace std::chrono_literals;

using Response = HttpListener::Response;

int http_status_of(int status) {
  return status >= 200 && status <= 599 ? status : 502;
}

std::string describe(const ControlRequest& r) {
  auto id = r.module_id.empty() ? r.device_id : r.device_id + "/" + r.module_id;
  return r.kind == ControlRequest::Kind::method ? "method " + r.name + " on " + id
                                                : "C2D message to " + id;
}

Response answer(int status, const nlohmann::json& payload, bool keep_alive) {
  Response res;
  res.version(11);
  res.result(static_cast<unsigned>(http_status_of(status)));
  res.keep_alive(keep_alive);
  res.set(http::field::server, "fieldlinkd");
  res.set(http::field::content_type, "application/json");
  res.body() = nlohmann::json{{"status", status}, {"payload", payload}}.dump(
                   -1, ' ', false, nlohmann::json::error_handler_t::replace) +
               "\n";
  res.prepare_payload();
  return res;
}

HttpListener::Limits control_limits() {
  HttpListener::Limits limits;
  limits.header_bytes = 8 * 1024;
  // IoT Hub's own limits: 256 KiB for a C2D message, 128 KiB for a method payload.
  limits.body_bytes = 256 * 1024;
  limits.read_timeout = 10s;
  limits.write_timeout = 5s;
  limits.max_connections = 8;
  limits.too_large = answer(413, {{"error", "request too large (body at most 256 KiB)"}}, false);
  limits.name = "control socket";
  limits.refused_event = "control.connection_refused";
  return limits;
}

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
  Impl(asio::io_context& io, Handler on_request, Logger& logger)
      : loop(io),
        handler(std::move(on_request)),
        log(logger),
        listener(
            io, control_limits(),
            [this](HttpListener::Request req, const HttpListener::Peer& peer,
                   HttpListener::Respond respond) {
              serve(std::move(req), peer, std::move(respond));
            },
            logger, [this](int socket) { return identify(socket); }) {}

  // Who is connecting, and whether they may: asked before any of their request is read.
  HttpListener::Peer identify(int socket) {
    HttpListener::Peer peer{.who = "an unknown peer", .refused = {}};
    std::string error;
    if (const auto cred = peer_credentials(socket, error)) {
      peer.refused = refuse_peer(*cred, policy);
      peer.who = "uid " + std::to_string(cred->uid) + " (pid " + std::to_string(cred->pid) + ")";
    } else {
      peer.refused = "the peer's credentials are unknown (" + error + ")";
    }
    if (!peer.refused.empty()) {
      log.warning({.event = "control.peer_refused"}, "control socket: refused " + peer.refused);
    }
    return peer;
  }

  void serve(HttpListener::Request req, const HttpListener::Peer& peer,
             HttpListener::Respond respond) {
    if (!peer.refused.empty()) return respond(answer(403, {{"error", peer.refused}}, false));
    const bool keep_alive = req.keep_alive();
    auto parsed = parse_control_request(
        std::string_view(req.method_string().data(), req.method_string().size()),
        std::string_view(req.target().data(), req.target().size()), std::move(req.body()));
    if (!parsed.request) {
      return respond(answer(parsed.refusal.status, {{"error", parsed.refusal.error}}, keep_alive));
    }
    auto what = describe(*parsed.request) + " from " + peer.who;
    handler(std::move(*parsed.request),
            [&log = log, respond = std::move(respond), what = std::move(what), keep_alive,
             answered = false](int status, const nlohmann::json& payload) mutable {
              if (std::exchange(answered, true)) return;
              log.notice({.event = "control.request"},
                         "control socket: " + what + " answered " + std::to_string(status));
              respond(answer(status, payload, keep_alive));
            });
  }

  asio::io_context& loop;
  Handler handler;
  Logger& log;
  PeerPolicy policy;
  std::string path;
  HttpListener listener;
};

ControlServer::ControlServer(asio::io_context& loop, Handler handler, Logger& log)
    : impl_(std::make_unique<Impl>(loop, std::move(handler), log)) {}

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
  Protocol::acceptor a(impl_->loop);
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
    if (bound) std::filesystem::remove(path, fs_ec);  // ours; anything else stays
    return "cannot listen on unix:" + path + ": " + failed;
  }
  impl_->policy = PeerPolicy{::geteuid(), st.st_gid};
  impl_->path = path;
  impl_->listener.serve(std::move(a), path);
  return {};
}

void ControlServer::close() {
  impl_->listener.close();
  impl_->path.clear();
}

std::string ControlServer::path() const {
  return impl_->path;
}

}  // namespace fieldlink
