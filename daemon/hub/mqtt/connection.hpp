#pragma once
// One MQTT byte stream to the hub: resolve, TCP connect (TCP_NODELAY), TLS handshake with SNI and
// host-name verification, then packets in and out. Knows nothing of sessions or identities.
// Thread: the core loop. Handlers run there; `on_close` runs exactly once, and never after the
// owner called close().
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "hub/mqtt/packet.hpp"

namespace boost::asio {
class io_context;
}

namespace fieldlink::hub::mqtt {

class TlsContext;

struct Endpoint {
  std::string host;  // where to connect; also the TLS server name checked and sent as SNI
  std::uint16_t port = 8883;
};

class Connection {
 public:
  struct Handlers {
    std::function<void()> on_open;
    std::function<void(ServerPacket&&)> on_packet;
    std::function<void(const std::string& reason)> on_close;
  };

  // `tls` null means plain TCP, for tests against a local broker only: the config offers no way
  // to reach the hub without TLS.
  static std::shared_ptr<Connection> create(boost::asio::io_context& loop, TlsContext* tls,
                                            Endpoint endpoint, Handlers handlers,
                                            std::chrono::milliseconds open_timeout,
                                            std::size_t max_packet);
  virtual ~Connection() = default;

  virtual void open() = 0;
  virtual void send(std::string bytes) = 0;
  // Closes without calling on_close.
  virtual void close() = 0;
  // Closes once everything queued is written (a DISCONNECT, say), without calling on_close.
  virtual void finish() = 0;
  virtual std::size_t queued_bytes() const = 0;
};

}  // namespace fieldlink::hub::mqtt
