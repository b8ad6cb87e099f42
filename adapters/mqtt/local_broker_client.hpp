#pragma once
// The BrokerClient for a broker reached without TLS, over TCP or a unix socket: the usual place
// of the plant's broker is the same box or cabinet. It speaks MQTT 3.1.1 with the hub's own codec
// (hub/mqtt/packet.hpp) instead of libmosquitto, whose read path costs a read(2) for the fixed
// header, one per remaining-length byte and one for the rest, and a pselect(2) and a wake-up byte
// for each PUBACK: at 12,000 messages/s that thread was the gateway's busiest. This one reads what
// the socket holds in one call, hands every message in it to `message`, and then writes the
// PUBACKs of the whole pass in one call. So, as the contract in broker_client.hpp says, no
// message is acknowledged before its event has returned, and `cut` from inside an event leaves
// that message and the rest of the pass unacknowledged.
// With Events::hold/durable (the MQTT adapter sets them) a PUBACK waits longer: until the journal
// has committed what its message pushed. It then goes out with the others its commit released,
// in the order the messages came. A clean stop or a cut writes every held PUBACK first (the
// sink keeps those readings; the daemon drains it on the way out); a lost connection forgets
// them, and the broker sends those messages again.
//
// TLS to the local broker stays with MosquittoClient (make_broker_client chooses).
//
// Threads: one network thread of its own, blocking in poll(2) on the socket and on an eventfd
// that `publish`, `subscribe`, `cut` and `stop` write to wake it. The stop and cut requests are
// atomic flags; the outbox and the in-flight publishes are under `mutex_`. Keepalive and back-off
// run on the steady clock of this thread (as libmosquitto's did); tests observe them through the
// broker, not through a fake clock.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adapters/mqtt/broker_client.hpp"
#include "hub/mqtt/packet.hpp"

namespace fieldlink::mqtt {

class LocalBrokerClient final : public BrokerClient {
 public:
  explicit LocalBrokerClient(BrokerEndpoint endpoint);
  ~LocalBrokerClient() override;  // stops if still running
  LocalBrokerClient(const LocalBrokerClient&) = delete;
  LocalBrokerClient& operator=(const LocalBrokerClient&) = delete;

  BrokerStatus start(Events events) override;
  void stop() override;
  BrokerStatus subscribe(const std::vector<std::string>& filters) override;
  BrokerStatus publish(const std::string& topic, std::string_view payload,
                       int& message_id) override;
  void cut() override;
  void acks_released() override;

 private:
  using Clock = std::chrono::steady_clock;
  // A QoS 1 publish of ours the broker has not acknowledged yet; sent again (DUP) after a
  // reconnect, as MQTT asks of a persistent session.
  struct InFlight {
    std::uint16_t id = 0;
    std::string packet;
    bool sent = false;
  };
  // Why a connection ended; `report` false when the adapter was already told (a refused CONNACK)
  // or the client is stopping; `was_up` when a CONNACK had accepted it (back-off starts over).
  struct Ended {
    std::string why;
    bool report = true;
    bool was_up = false;
  };

  void run();
  Ended session();
  // Connects the socket (non-blocking) or says why not; gives up early when stop() is called.
  std::optional<std::string> open_socket();
  // Reads what the socket holds into in_; false with `why` set when the connection is over.
  bool read_some(std::string& why);
  // Handles every whole packet in in_, holding the PUBACKs of QoS 1 messages; nullopt to go on.
  std::optional<Ended> handle_packets(bool& up);
  // Moves the held PUBACKs whose marks are durable to out_, in order.
  void release_acks();
  // Ends the connection from our side, PUBACKs due first (see the .cpp).
  Ended disconnect(Ended ended);
  static Ended cut_ending(bool up);
  // Writes as much of out_ as the socket takes now; false with `why` on an error.
  bool write_some(std::string& why);
  // Waits for the socket (`events`) or a wake-up until `deadline`; the socket's revents.
  short wait(short events, Clock::time_point deadline);
  void wake();
  std::uint16_t next_packet_id();  // under mutex_
  void close_socket();

  BrokerEndpoint endpoint_;
  Events events_;
  std::thread thread_;
  int wake_fd_ = -1;

  // Set by the caller's threads, read by the network thread at each turn and after each message.
  std::atomic<bool> stopping_ = false;
  std::atomic<bool> cut_ = false;

  // Shared with the caller's threads, under mutex_.
  std::mutex mutex_;
  bool connected_ = false;  // CONNACK accepted and the connection not lost since
  std::string outbox_;      // packets from publish/subscribe, written by the network thread
  std::deque<InFlight> in_flight_;
  std::uint16_t last_id_ = 0;

  // Network thread only.
  int fd_ = -1;
  bool readable_ = false;  // poll(2) said so, or the last read filled the buffer
  std::vector<char> in_;   // bytes read; those from in_begin_ to in_end_ not decoded yet
  std::size_t in_begin_ = 0, in_end_ = 0;
  std::string out_;  // bytes to write, in order
  // A received QoS 1 message whose PUBACK waits for its readings to be durable (Events::hold).
  struct Held {
    std::uint16_t packet_id;
    std::uint64_t mark;
  };
  std::deque<Held> held_;
  hub::mqtt::PacketDecoder decoder_;
  Clock::time_point last_sent_{};
  std::optional<Clock::time_point> ping_deadline_;
};

}  // namespace fieldlink::mqtt
