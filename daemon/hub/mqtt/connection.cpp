#include "hub/mqtt/connection.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <deque>

#include "hub/mqtt/tls_context.hpp"

namespace fieldlink::hub::mqtt {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// Small reads keep idle sessions light (most server packets are a few bytes); a large packet
// just takes several reads.
constexpr std::size_t kReadChunk = 4096;

class StreamConnection final : public Connection,
                               public std::enable_shared_from_this<StreamConnection> {
 public:
  StreamConnection(asio::io_context& loop, TlsContext* tls, Endpoint endpoint, Handlers handlers,
                   std::chrono::milliseconds open_timeout, std::size_t max_packet)
      : tls_(tls != nullptr),
        endpoint_(std::move(endpoint)),
        handlers_(std::move(handlers)),
        open_timeout_(open_timeout),
        resolver_(loop),
        // A plain connection still builds an ssl::stream (over an unconfigured context of its
        // own) so both kinds share one code path; it only ever uses the TCP layer.
        plain_context_(tls != nullptr ? nullptr
                                      : std::make_unique<ssl::context>(ssl::context::tls_client)),
        stream_(loop, tls != nullptr ? tls->native() : *plain_context_),
        timer_(loop),
        decoder_(max_packet) {}

  void open() override {
    timer_.expires_after(open_timeout_);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec && !self->open_) self->fail("timed out connecting to " + self->where());
    });
    resolver_.async_resolve(
        endpoint_.host, std::to_string(endpoint_.port),
        [self = shared_from_this()](error_code ec, tcp::resolver::results_type results) {
          if (self->closed_) return;
          if (ec) return self->fail("cannot resolve " + self->endpoint_.host + ": " + ec.message());
          asio::async_connect(
              self->stream_.next_layer(), results,
              [self](error_code ec2, const tcp::endpoint&) { self->connected(ec2); });
        });
  }

  void send(std::string bytes) override {
    if (closed_) return;
    queued_ += bytes.size();
    writes_.push_back(std::move(bytes));
    if (open_ && !writing_) write_next();
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    shut();
  }

  void finish() override {
    if (closed_) return;
    if (writes_.empty() || !open_) return close();
    finishing_ = true;
    // A link that cannot take even a DISCONNECT is dropped rather than kept open forever.
    timer_.expires_after(std::chrono::seconds(5));
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->close();
    });
  }

  std::size_t queued_bytes() const override { return queued_; }

 private:
  std::string where() const { return endpoint_.host + ":" + std::to_string(endpoint_.port); }

  void connected(error_code ec) {
    if (closed_) return;
    if (ec) return fail("cannot connect to " + where() + ": " + ec.message());
    error_code ignored;
    stream_.next_layer().set_option(tcp::no_delay(true), ignored);
    if (!tls_) return opened();
    // SNI for the hub's front end, and the certificate must name the host we asked for.
    // SSL_set_tlsext_host_name is a macro with a C cast; call what it expands to.
    SSL_ctrl(stream_.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(endpoint_.host.c_str()));
    stream_.set_verify_callback(ssl::host_name_verification(endpoint_.host));
    stream_.async_handshake(ssl::stream_base::client, [self = shared_from_this()](error_code ec2) {
      if (self->closed_) return;
      if (ec2) {
        return self->fail("TLS handshake with " + self->where() + " failed: " + tls_reason(ec2));
      }
      self->opened();
    });
  }

  static std::string tls_reason(const error_code& ec) {
    std::string why = ec.message();
    if (ec.category() == asio::error::get_ssl_category()) {
      const auto reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
      if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) why += " (is hub.ca_file the right CA?)";
    }
    return why;
  }

  void opened() {
    timer_.cancel();
    open_ = true;
    handlers_.on_open();
    if (closed_) return;
    if (!writes_.empty() && !writing_) write_next();
    read_next();
  }

  void read_next() {
    const auto old = inbound_.size();
    inbound_.resize(old + kReadChunk);
    auto on_read = [self = shared_from_this(), old](error_code ec, std::size_t n) {
      self->inbound_.resize(old + n);
      if (self->closed_) return;
      if (ec) {
        return self->fail(ec == asio::error::eof || ec == ssl::error::stream_truncated
                              ? "the server closed the connection"
                              : "read from " + self->where() + " failed: " + ec.message());
      }
      self->consume();
    };
    auto buffer = asio::buffer(inbound_.data() + old, kReadChunk);
    if (tls_) {
      stream_.async_read_some(buffer, on_read);
    } else {
      stream_.next_layer().async_read_some(buffer, on_read);
    }
  }

  void consume() {
    std::size_t offset = 0;
    for (;;) {
      std::size_t used = 0;
      ServerPacket packet;
      const auto status = decoder_.decode(std::string_view(inbound_).substr(offset), used, packet);
      if (status == PacketDecoder::Status::need_more) break;
      if (status == PacketDecoder::Status::error) {
        return fail("protocol error from " + where() + ": " + decoder_.error());
      }
      offset += used;
      if (!finishing_) handlers_.on_packet(std::move(packet));
      if (closed_) return;
    }
    inbound_.erase(0, offset);
    if (inbound_.empty() && inbound_.capacity() > 2 * kReadChunk) inbound_.shrink_to_fit();
    read_next();
  }

  // One write at a time: asio allows no second async_write on a stream before the first ends.
  void write_next() {
    writing_ = true;
    auto on_write = [self = shared_from_this()](error_code ec, std::size_t n) {
      self->writing_ = false;
      if (self->closed_) return;
      if (ec) return self->fail("write to " + self->where() + " failed: " + ec.message());
      self->queued_ -= n;
      self->writes_.pop_front();
      if (!self->writes_.empty()) return self->write_next();
      if (self->finishing_) self->close();
    };
    if (tls_) {
      asio::async_write(stream_, asio::buffer(writes_.front()), on_write);
    } else {
      asio::async_write(stream_.next_layer(), asio::buffer(writes_.front()), on_write);
    }
  }

  void fail(const std::string& reason) {
    if (closed_) return;
    if (finishing_) return close();  // the owner has let go; nobody to tell
    closed_ = true;
    shut();
    handlers_.on_close(reason);
  }

  void shut() {
    timer_.cancel();
    resolver_.cancel();
    error_code ignored;
    stream_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.next_layer().close(ignored);
  }

  bool tls_;
  Endpoint endpoint_;
  Handlers handlers_;
  std::chrono::milliseconds open_timeout_;
  tcp::resolver resolver_;
  std::unique_ptr<ssl::context> plain_context_;
  ssl::stream<tcp::socket> stream_;
  asio::steady_timer timer_;
  PacketDecoder decoder_;
  std::string inbound_;
  std::deque<std::string> writes_;
  std::size_t queued_ = 0;
  bool open_ = false;
  bool writing_ = false;
  bool finishing_ = false;
  bool closed_ = false;
};

}  // namespace

std::shared_ptr<Connection> Connection::create(asio::io_context& loop, TlsContext* tls,
                                               Endpoint endpoint, Handlers handlers,
                                               std::chrono::milliseconds open_timeout,
                                               std::size_t max_packet) {
  return std::make_shared<StreamConnection>(loop, tls, std::move(endpoint), std::move(handlers),
                                            open_timeout, max_packet);
}

}  // namespace fieldlink::hub::mqtt
