#include "status_client.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

namespace fieldlink::ctl {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

constexpr auto kTimeout = std::chrono::seconds(5);

template <class Stream>
HttpReply exchange(Stream& stream, const std::string& host, const std::string& path,
                   const std::string* body = nullptr) {
  http::request<http::string_body> req{body ? http::verb::post : http::verb::get, path, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "fieldlinkctl");
  if (body) {
    req.body() = *body;
    req.prepare_payload();
  }
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return {static_cast<int>(res.result_int()), std::move(res.body()), {}};
}

}  // namespace

HttpReply http_get(const std::string& url, const std::string& path) {
  asio::io_context io;
  try {
    if (url.starts_with("unix:")) {
      beast::basic_stream<asio::local::stream_protocol> stream(io);
      stream.expires_after(kTimeout);
      stream.connect(asio::local::stream_protocol::endpoint(url.substr(5)));
      return exchange(stream, "localhost", path);
    }
    std::string rest = url.starts_with("http://") ? url.substr(7) : url;
    rest = rest.substr(0, rest.find('/'));
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos) return {0, {}, "expected http://HOST:PORT or unix:/PATH"};
    auto host = rest.substr(0, colon);
    if (host.starts_with('[')) host = host.substr(1, host.size() - 2);
    asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(kTimeout);
    stream.connect(resolver.resolve(host, rest.substr(colon + 1)));
    return exchange(stream, rest, path);
  } catch (const boost::system::system_error& e) {
    return {0, {}, e.code().message()};
  }
}

HttpReply http_post(const std::string& url, const std::string& path, const std::string& body,
                    std::chrono::seconds timeout) {
  if (!url.starts_with("unix:")) return {0, {}, "the control socket is a unix socket (unix:/PATH)"};
  asio::io_context io;
  try {
    beast::basic_stream<asio::local::stream_protocol> stream(io);
    stream.expires_after(timeout);
    stream.connect(asio::local::stream_protocol::endpoint(url.substr(5)));
    return exchange(stream, "localhost", path, &body);
  } catch (const boost::system::system_error& e) {
    return {0, {}, e.code().message()};
  }
}

}  // namespace fieldlink::ctl
