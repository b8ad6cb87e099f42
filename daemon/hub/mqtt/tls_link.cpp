#include "hub/mqtt/tls_link.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace fieldlink::hub::mqtt {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// A filter in front of the socket's read side. With read-ahead OpenSSL asks the socket for as
// much as its buffer holds; a read that returns less has almost certainly emptied the socket, so
// the next read would only return EAGAIN. The filter answers that next read with "retry" itself,
// which spares one read(2) per burst from the hub. A wrong guess costs nothing: the wait that
// follows re-arms the socket in epoll, which reports data already there at once.
// The BIO's data points at the owner's flag (TlsLink::socket_drained_). It is the read BIO only:
// OpenSSL writes to the socket BIO directly (attach_socket), so the filter has no write method.
int drained_guard_read(BIO* b, char* out, int size) {
  auto* drained = static_cast<bool*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  if (*drained) {
    *drained = false;
    BIO_set_retry_read(b);
    return -1;
  }
  const int n = BIO_read(BIO_next(b), out, size);
  if (n <= 0) {
    BIO_copy_next_retry(b);
    return n;
  }
  *drained = n < size;
  return n;
}

long drained_guard_ctrl(BIO* b, int command, long number, void* pointer) {
  BIO* next = BIO_next(b);
  return next == nullptr ? 0 : BIO_ctrl(next, command, number, pointer);
}

int drained_guard_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

// Built once, read-only afterwards, shared by every connection.
const BIO_METHOD* drained_guard_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "fieldlink drained guard");
    if (m == nullptr) return m;
    BIO_meth_set_read(m, drained_guard_read);
    BIO_meth_set_ctrl(m, drained_guard_ctrl);
    BIO_meth_set_create(m, drained_guard_create);
    return m;
  }();
  return method;
}

}  // namespace

TlsLink::TlsLink(tcp::socket& socket, SSL_CTX* context) : socket_(socket), ssl_(SSL_new(context)) {
  // OpenSSL writes the socket with send() and no MSG_NOSIGNAL: a write after the hub closed the
  // connection would raise SIGPIPE and end the process instead of failing the one session.
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] { std::signal(SIGPIPE, SIG_IGN); });
  if (ssl_ == nullptr) throw std::runtime_error("cannot create a TLS connection (out of memory?)");
  // A write that stops half way resumes from the same bytes; the buffer may have moved (it
  // does not, but OpenSSL insists on being told).
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

TlsLink::~TlsLink() {
  SSL_free(ssl_);
}

void TlsLink::async_handshake(const std::string& host, Done done) {
  host_ = host;
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  if (ec || !attach_socket()) {
    return asio::post(socket_.get_executor(), [done = std::move(done)] {
      done(Status{"cannot attach TLS to the socket", false});
    });
  }
  asio::ip::make_address(host, ec);
  if (!ec) {
    // An address literal: no SNI (RFC 6066 forbids it), and the certificate must carry the IP.
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str());
  } else {
    // SSL_set_tlsext_host_name is a macro with a C cast; call what it expands to.
    SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(host.c_str()));
    SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_set1_host(ssl_, host.c_str());
  }
  drive(
      [this](Status& status, std::size_t&) {
        ERR_clear_error();
        return step_for(SSL_connect(ssl_), status);
      },
      [done = std::move(done)](Status status, std::size_t) { done(std::move(status)); });
}

bool TlsLink::attach_socket() {
  // Reads go through the drained guard to the socket; writes go to the socket directly.
  const BIO_METHOD* guard_method = drained_guard_method();
  if (guard_method == nullptr) return false;
  BIO* socket_bio = BIO_new_socket(socket_.native_handle(), BIO_NOCLOSE);
  BIO* guard = BIO_new(guard_method);
  if (socket_bio == nullptr || guard == nullptr || BIO_up_ref(socket_bio) != 1) {
    BIO_free(guard);
    BIO_free(socket_bio);
    return false;
  }
  BIO_set_data(guard, &socket_drained_);
  BIO_push(guard, socket_bio);
  // The SSL owns both now: the chain (guard, then the socket) and the second reference to the
  // socket BIO, released in SSL_free.
  SSL_set_bio(ssl_, guard, socket_bio);
  return true;
}

void TlsLink::async_read_some(char* data, std::size_t size, ReadDone done) {
  if (held_failure_) {
    auto status = std::move(*held_failure_);
    held_failure_.reset();
    return asio::post(socket_.get_executor(),
                      [done = std::move(done), status = std::move(status)]() mutable {
                        done(std::move(status), 0);
                      });
  }
  drive(
      [this, data, size](Status& status, std::size_t& n) {
        ERR_clear_error();
        const auto step = step_for(SSL_read_ex(ssl_, data, size, &n), status);
        if (step == Step::finished && status.ok()) take_buffered(data, size, n);
        return step;
      },
      std::move(done));
}

// SSL_read returns one record at a time, and mosquitto (for one) sends each PUBACK in a record of
// its own: read one by one, every PUBACK was a handler of its own, and between two of them the
// upstream's pump ran and sent one message in a TLS record and a write of its own (in a flood,
// 99 % of the writes to the hub carried one message). So the records OpenSSL already holds
// (read-ahead) come along in the same read. A failure met behind them is held for the next read,
// so the bytes before it are not lost and the failure keeps its own reason (read again, OpenSSL
// would report a broken connection as merely closed).
void TlsLink::take_buffered(char* data, std::size_t size, std::size_t& n) {
  while (n < size && SSL_has_pending(ssl_) == 1) {
    std::size_t more = 0;
    Status status;
    ERR_clear_error();
    if (step_for(SSL_read_ex(ssl_, data + n, size - n, &more), status) != Step::finished) return;
    if (!status.ok()) {
      held_failure_ = std::move(status);
      return;
    }
    n += more;
  }
}

void TlsLink::async_write(const char* data, std::size_t size, Done done) {
  drive(
      [this, data, size, offset = std::size_t{0}](Status& status, std::size_t&) mutable {
        while (offset < size) {
          std::size_t written = 0;
          ERR_clear_error();
          const auto step =
              step_for(SSL_write_ex(ssl_, data + offset, size - offset, &written), status);
          if (step != Step::finished || !status.ok()) return step;
          offset += written;
        }
        return Step::finished;
      },
      [done = std::move(done)](Status status, std::size_t) { done(std::move(status)); });
}

void TlsLink::drive(Attempt attempt, ReadDone done) {
  Status status;
  std::size_t n = 0;
  const auto step = attempt(status, n);
  if (step == Step::finished) {
    // Never complete inside the call: a reader that reads again from its handler would recurse
    // for as long as OpenSSL has buffered records.
    return asio::post(socket_.get_executor(), [done = std::move(done), status = std::move(status),
                                               n]() mutable { done(std::move(status), n); });
  }
  socket_.async_wait(step == Step::want_read ? tcp::socket::wait_read : tcp::socket::wait_write,
                     [this, attempt = std::move(attempt),
                      done = std::move(done)](boost::system::error_code ec) mutable {
                       if (ec) return done(Status{ec.message(), false}, 0);
                       drive(std::move(attempt), std::move(done));
                     });
}

TlsLink::Step TlsLink::step_for(int result, Status& status) {
  if (result == 1) return Step::finished;
  switch (SSL_get_error(ssl_, result)) {
    case SSL_ERROR_WANT_READ:
      return Step::want_read;
    case SSL_ERROR_WANT_WRITE:
      return Step::want_write;
    case SSL_ERROR_ZERO_RETURN:
      status.closed = true;
      return Step::finished;
    case SSL_ERROR_SYSCALL:
      if (errno == 0 || errno == ECONNRESET || errno == EPIPE) {
        status.closed = true;
      } else {
        status.error = std::strerror(errno);
      }
      return Step::finished;
    default:
      // A peer that drops TCP without TLS's close_notify: for a hub, just "closed".
      if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        status.closed = true;
      } else {
        status.error = describe_failure(ERR_peek_error());
      }
      return Step::finished;
  }
}

std::string TlsLink::describe_failure(unsigned long code) const {
  const auto verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    std::string why = "certificate verify failed: ";
    why += X509_verify_cert_error_string(verify);
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      return why + " (the server's certificate does not name " + host_ + ")";
    }
    return why + " (is hub.ca_file the right CA?)";
  }
  if (code == 0) return "TLS failure";
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : "TLS error " + std::to_string(code);
}

}  // namespace fieldlink::hub::mqtt
