#pragma once
// TLS on a connected TCP socket, with OpenSSL reading and writing the socket itself and Asio only
// telling when the socket is ready. asio::ssl::stream instead pumps every byte through a BIO pair
// and two record buffers of its own: about 52 KB per connection that sit idle between the few
// packets a hub session exchanges, which at 1,000 identities was half of fieldlinkd's memory.
// Thread: the owner's (the core loop). One read and one write may be outstanding at a time;
// handlers never run after the socket is closed without being told (operation_aborted).
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include <openssl/ssl.h>
#include <boost/asio/ip/tcp.hpp>

namespace fieldlink::hub::mqtt {

class TlsLink {
 public:
  // Why an operation ended: empty when it succeeded; `closed` when the peer ended the stream.
  struct Status {
    std::string error;
    bool closed = false;
    bool ok() const { return error.empty() && !closed; }
  };
  using Done = std::function<void(Status)>;
  using ReadDone = std::function<void(Status, std::size_t)>;

  // `socket` must outlive this; `context` is shared by every connection.
  TlsLink(boost::asio::ip::tcp::socket& socket, SSL_CTX* context);
  ~TlsLink();
  TlsLink(const TlsLink&) = delete;
  TlsLink& operator=(const TlsLink&) = delete;

  // After the TCP connect: SNI and the host name the certificate must carry (a DNS name or an
  // IP address literal), then the handshake with peer verification from the context.
  void async_handshake(const std::string& host, Done done);
  void async_read_some(char* data, std::size_t size, ReadDone done);
  // Writes all of `data` (which must stay put until `done`).
  void async_write(const char* data, std::size_t size, Done done);

 private:
  enum class Step { finished, want_read, want_write };
  // One try at an OpenSSL call; sets the status and the bytes moved when it finishes.
  using Attempt = std::function<Step(Status&, std::size_t&)>;
  // Repeats `attempt`, waiting on the socket as OpenSSL asks, until it finishes.
  void drive(Attempt attempt, ReadDone done);
  Step step_for(int result, Status& status);
  // After a read of `n` bytes into `data`: adds what OpenSSL already holds, up to `size`; a
  // failure met there goes to `held_failure_`.
  void take_buffered(char* data, std::size_t size, std::size_t& n);
  // Gives OpenSSL the socket (see the drained guard in tls_link.cpp); false if out of memory.
  bool attach_socket();
  std::string describe_failure(unsigned long code) const;

  boost::asio::ip::tcp::socket& socket_;
  SSL* ssl_;
  std::string host_;
  bool socket_drained_ = false;         // the last socket read returned less than asked
  std::optional<Status> held_failure_;  // met behind records already read: the next read's result
};

}  // namespace fieldlink::hub::mqtt
