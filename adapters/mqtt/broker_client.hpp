#pragma once
// The seam between the MQTT adapter and its broker client (design.md §9): a small interface with
// two real implementations, LocalBrokerClient (our own, for plain TCP and unix sockets) and
// MosquittoClient (libmosquitto, for TLS), so unit tests can drive connect failures, lost
// connections and refused publishes without a broker.
//
// Threads: `start` and `stop` are called on the core loop. The events run on the client's own
// network thread, one at a time, never after
// `stop` has returned. `subscribe`, `publish` and `cut` may be called from the core loop or from
// inside an event; they never block on the network.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace fieldlink::mqtt {

struct BrokerEndpoint {
  std::string host;
  int port = 1883;
  std::string unix_socket;  // when set, replaces host/port
  std::string client_id;
  std::chrono::seconds keepalive{30};
  bool tls = false;
  std::string ca_file;
  std::string username;
  std::string password;  // read from the password file by the adapter; never logged
  std::chrono::seconds reconnect_min{1};
  std::chrono::seconds reconnect_max{30};
};

// A result as a value: 0 is success, otherwise the library's code and its text.
struct BrokerStatus {
  int code = 0;
  std::string text;
  bool ok() const { return code == 0; }
};

struct InboundMessage {
  std::string_view topic;
  std::string_view payload;
  int qos = 0;
  bool retained = false;
};

class BrokerClient {
 public:
  struct Events {
    // Connected (CONNACK accepted) or the attempt refused; `session_present` per MQTT 3.1.1.
    std::function<void(bool accepted, bool session_present, const std::string& why)> connected;
    std::function<void(const std::string& why)> disconnected;  // reconnects by itself after it
    // For QoS 1, the PUBACK is queued before this runs and written to the socket only after it
    // returns; see MqttAdapter for what that buys.
    std::function<void(const InboundMessage&)> message;
    std::function<void(int message_id)> published;  // the broker acknowledged our QoS 1 publish
    // Optional, PUBACK after durability (LocalBrokerClient; libmosquitto acknowledges before
    // `message` runs and ignores them): `hold` runs after each `message` and returns its mark
    // (ReadingSink::mark); the PUBACK is written once `durable` returns at least that mark.
    // The client looks again when told so (acks_released) and before every write. `hurry` asks
    // for an early journal commit when many PUBACKs wait (a broker sends only so many
    // unacknowledged messages: mosquitto's max_inflight_messages, 20 by default).
    std::function<std::uint64_t()> hold;
    std::function<std::uint64_t()> durable;
    std::function<void()> hurry;
  };

  virtual ~BrokerClient() = default;
  // Starts connecting in the background and keeps the connection up (reconnecting with backoff
  // from reconnect_min to reconnect_max) until `stop`.
  virtual BrokerStatus start(Events events) = 0;
  // Disconnects cleanly and joins the network thread; no event runs after it returns.
  virtual void stop() = 0;
  virtual BrokerStatus subscribe(const std::vector<std::string>& filters) = 0;  // QoS 1
  // QoS 1, not retained; `message_id` identifies the later `published` event.
  virtual BrokerStatus publish(const std::string& topic, std::string_view payload,
                               int& message_id) = 0;
  // Ends the connection without acknowledging the message whose event is running (when called
  // from one) or any message after it, so the broker keeps those for this session and sends them
  // again on reconnect. Messages whose events returned before may be acknowledged or not (sent
  // again: at-least-once); LocalBrokerClient acknowledges them before it disconnects, held or
  // not (they are in the sink, which a clean stop drains into the journal).
  virtual void cut() = 0;
  // Any thread: Events::durable has grown; held PUBACKs may go now.
  virtual void acks_released() {}
};

std::unique_ptr<BrokerClient> make_mosquitto_client(BrokerEndpoint endpoint);
// LocalBrokerClient without TLS, MosquittoClient with it.
std::unique_ptr<BrokerClient> make_broker_client(BrokerEndpoint endpoint);

// Starts a client's network thread, named `mqtt <client id>` (cut to the 15 characters Linux
// keeps) so that `top -H` and the benchmarks tell it from the core loop.
std::thread start_network_thread(const std::string& client_id, std::function<void()> body);

}  // namespace fieldlink::mqtt
