#include "status/status_server.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <sys/stat.h>

#include <boost/beast/http.hpp>
#include <filesystem>

#include "status/http_listener.hpp"
#include "status/status_query.hpp"

namespace fieldlink {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

using Response = HttpListener::Response;

Response route(const StatusBoard& board, const http::request<http::string_body>& req) {
  Response res;
  res.version(req.version());
  res.keep_alive(req.keep_alive());
  res.set(http::field::server, "fieldlinkd");
  res.set(http::field::cache_control, "no-store");
  std::string_view target(req.target().data(), req.target().size());
  const auto question = target.find('?');
  const auto query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  target = target.substr(0, question);
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
    // Only /status reads its query; /healthz and /metrics ignore theirs, as they always have.
    const auto parsed = parse_status_query(query);
    if (parsed.query) {
      res.result(http::status::ok);
      res.set(http::field::content_type, "application/json");
      res.body() = status_body(board, *parsed.query);
    } else {
      res.result(http::status::bad_request);
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = parsed.error + "\n";
    }
  } else {
    res.result(http::status::ok);
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = board.metrics();
  }
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

HttpListener::Limits status_limits() {
  HttpListener::Limits limits;
  limits.header_bytes = 8 * 1024;
  limits.body_bytes = 0;  // GET only: any request body is refused
  limits.read_timeout = 5s;
  limits.write_timeout = 5s;
  limits.max_connections = 16;
  limits.too_large.result(http::status::payload_too_large);
  limits.too_large.set(http::field::content_type, "text/plain; charset=utf-8");
  limits.too_large.body() = "request too large\n";
  limits.too_large.prepare_payload();
  limits.name = "status endpoint";
  limits.refused_event = "status.connection_refused";
  return limits;
}

}  // namespace

struct StatusServer::Impl {
  Impl(asio::io_context& io, const StatusBoard& board, Logger& log)
      : loop(io),
        listener(
            io, status_limits(),
            [&board](HttpListener::Request req, const HttpListener::Peer&,
                     HttpListener::Respond respond) { respond(route(board, req)); },
            log) {}

  asio::io_context& loop;
  HttpListener listener;
  std::string url;
};

StatusServer::StatusServer(asio::io_context& loop, const StatusBoard& board, Logger& log)
    : impl_(std::make_unique<Impl>(loop, board, log)) {}

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
    asio::ip::tcp::acceptor a(impl_->loop);
    const asio::ip::tcp::endpoint ep(addr, t->port);
    if (!a.open(ep.protocol(), ec) && !a.set_option(asio::socket_base::reuse_address(true), ec) &&
        !a.bind(ep, ec) && !a.listen(asio::socket_base::max_listen_connections, ec)) {
      const auto bound = a.local_endpoint();
      const bool v6 = bound.address().is_v6();
      impl_->url = "http://" + std::string(v6 ? "[" : "") + bound.address().to_string() +
                   (v6 ? "]" : "") + ":" + std::to_string(bound.port()) + "/";
      impl_->listener.serve(std::move(a));
      return {};
    }
    return "cannot listen on " + config::format_listen(where) + ": " + ec.message();
  }
  const auto& path = std::get<config::ListenAddress::Unix>(where.where).path;
  std::error_code fs_ec;
  // A socket file left by a previous run (after a crash) would make bind fail forever.
  if (std::filesystem::is_socket(path, fs_ec)) std::filesystem::remove(path, fs_ec);
  asio::local::stream_protocol::acceptor a(impl_->loop);
  const asio::local::stream_protocol::endpoint ep(path);
  if (!a.open(ep.protocol(), ec) && !a.bind(ep, ec) &&
      !a.listen(asio::socket_base::max_listen_connections, ec)) {
    ::chmod(path.c_str(), 0660);
    impl_->url = "unix:" + path;
    impl_->listener.serve(std::move(a), path);
    return {};
  }
  return "cannot listen on " + config::format_listen(where) + ": " + ec.message();
}

void StatusServer::close() {
  impl_->listener.close();
  impl_->url.clear();
}

std::string StatusServer::url() const {
  return impl_->url;
}

}  // namespace fieldlink
