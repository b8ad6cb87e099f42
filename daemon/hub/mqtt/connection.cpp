#include "hub/mqtt/connection.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <deque>

#include "hub/mqtt/tls_context.hpp"
#include "hub/mqtt/tls_link.hpp"

namespace fieldlink::hub::mqtt {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// Small reads keep idle sessions light (most server packets are a few bytes); a large packet
// just takes several reads.
constexpr std::size_t kReadChunk = 4096;
// The payload of one full TLS record.
constexpr std::size_t kWriteBatch = 16384;

class StreamConnection final : public Connection,
                               public std::enable_shared_from_this<StreamConnection> {
 public:
  StreamConnection(asio::io_context& loop, TlsContext* tls, Endpoint endpoint, Handlers handlers,
                   std::chrono::milliseconds open_timeout, std::size_t max_packet)
      : endpoint_(std::move(endpoint)),
        handlers_(std::move(handlers)),
        open_timeout_(open_timeout),
        resolver_(loop),
        socket_(loop),
        tls_(tls != nullptr ? std::make_unique<TlsLink>(socket_, tls->native().native_handle())
                            : nullptr),
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
          asio::async_connect(self->socket_, results, [self](error_code ec2, const tcp::endpoint&) {
            self->connected(ec2);
          });
        });
  }

  void send(std::string bytes) override {
    if (closed_) return;
    queued_ += bytes.size();
    writes_.push_back(std::move(bytes));
    if (!open_ || writing_ || flush_posted_) return;
    // Started once the current handler is done, so that what it sends (a burst of publishes,
    // several PUBACKs) leaves in one write.
    flush_posted_ = true;
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->flush_posted_ = false;
      if (!self->closed_ && !self->writing_ && !self->writes_.empty()) self->write_next();
    });
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    shut();
  }

  void finish() override {
    if (closed_) return;
    if ((writes_.empty() && !writing_) || !open_) return close();
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
    socket_.set_option(tcp::no_delay(true), ignored);
    if (!tls_) return opened();
    // SNI for the hub's front end, and the certificate must name the host we asked for.
    tls_->async_handshake(endpoint_.host, [self = shared_from_this()](TlsLink::Status status) {
      if (self->closed_) return;
      if (!status.ok()) {
        return self->fail("TLS handshake with " + self->where() + " failed: " +
                          (status.closed ? "the server closed the connection" : status.error));
      }
      self->opened();
    });
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
    auto on_read = [self = shared_from_this(), old](TlsLink::Status status, std::size_t n) {
      self->inbound_.resize(old + n);
      if (self->closed_) return;
      if (status.closed) return self->fail("the server closed the connection");
      if (!status.ok())
        return self->fail("read from " + self->where() + " failed: " + status.error);
      self->consume();
    };
    if (tls_) return tls_->async_read_some(inbound_.data() + old, kReadChunk, std::move(on_read));
    socket_.async_read_some(
        asio::buffer(inbound_.data() + old, kReadChunk),
        [on_read = std::move(on_read)](error_code ec, std::size_t n) {
          on_read({ec && ec != asio::error::eof ? ec.message() : "", ec == asio::error::eof}, n);
        });
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
  // What queued meanwhile goes out together, up to a full TLS record: one record and one
  // syscall for many small packets instead of one each (the flood profile's largest kernel
  // share was the syscalls' entry and exit).
  void write_next() {
    writing_ = true;
    out_ = std::move(writes_.front());
    writes_.pop_front();
    while (!writes_.empty() && out_.size() + writes_.front().size() <= kWriteBatch) {
      out_ += writes_.front();
      writes_.pop_front();
    }
    auto on_write = [self = shared_from_this(), n = out_.size()](TlsLink::Status status) {
      self->writing_ = false;
      if (self->closed_) return;
      if (!status.ok()) {
        return self->fail("write to " + self->where() + " failed: " +
                          (status.closed ? "the server closed the connection" : status.error));
      }
      self->queued_ -= n;
      if (!self->writes_.empty()) return self->write_next();
      if (self->finishing_) self->close();
    };
    if (tls_) return tls_->async_write(out_.data(), out_.size(), std::move(on_write));
    asio::async_write(socket_, asio::buffer(out_),
                      [on_write = std::move(on_write)](error_code ec, std::size_t) {
                        on_write({ec ? ec.message() : "", false});
                      });
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
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  Endpoint endpoint_;
  Handlers handlers_;
  std::chrono::milliseconds open_timeout_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  std::unique_ptr<TlsLink> tls_;  // null for plain TCP (tests against a local broker)
  asio::steady_timer timer_;
  PacketDecoder decoder_;
  std::string inbound_;
  std::deque<std::string> writes_;
  std::string out_;  // being written
  std::size_t queued_ = 0;
  bool open_ = false;
  bool writing_ = false;
  bool flush_posted_ = false;
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
