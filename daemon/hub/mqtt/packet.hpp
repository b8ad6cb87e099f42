#pragma once
// MQTT 3.1.1 packets as IoT Hub uses them (design.md §4): we encode CONNECT, PUBLISH, PUBACK,
// SUBSCRIBE, PINGREQ and DISCONNECT, and decode what a server sends: CONNACK, PUBLISH, PUBACK,
// SUBACK, PINGRESP. Anything else from the server, or a malformed or oversized packet, is a
// protocol error that closes the connection — never a crash, never a guess.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace fieldlink::hub::mqtt {

struct Connect {
  std::string client_id;
  std::optional<std::string> username;  // absent for an anonymous client (a local broker)
  std::optional<std::string> password;  // absent for X.509 identities
  std::uint16_t keepalive_seconds = 0;
  bool clean_session = false;
};

struct Connack {
  bool session_present = false;
  std::uint8_t return_code = 0;  // 0 accepted, 5 not authorized, …
};

struct Publish {
  std::string topic;
  std::string payload;
  std::uint8_t qos = 0;
  bool dup = false;
  bool retain = false;
  std::uint16_t packet_id = 0;  // QoS 1 only
};

struct Puback {
  std::uint16_t packet_id = 0;
};

struct Subscribe {
  std::uint16_t packet_id = 0;
  std::vector<std::pair<std::string, std::uint8_t>> filters;  // filter, requested QoS
};

struct Suback {
  std::uint16_t packet_id = 0;
  std::vector<std::uint8_t> return_codes;  // granted QoS, or 0x80 for failure
};

struct Pingresp {};

using ServerPacket = std::variant<Connack, Publish, Puback, Suback, Pingresp>;

std::string encode(const Connect& p);
std::string encode(const Publish& p);
// A PUBLISH whose payload is held elsewhere (a journal body, shared): `p.payload` is ignored and
// `payload` copied once, straight into the packet.
std::string encode_publish(const Publish& p, std::string_view payload);
std::string encode(const Puback& p);
std::string encode(const Subscribe& p);
std::string encode_pingreq();
// What a CONNACK return code means (MQTT 3.1.1, 3.2.2.3), for logs.
std::string connack_text(std::uint8_t return_code);
std::string encode_disconnect();

// Incremental decoder for bytes from the server.
class PacketDecoder {
 public:
  enum class Status { packet, need_more, error };

  explicit PacketDecoder(std::size_t max_packet) : max_packet_(max_packet) {}

  // Decodes one packet from the front of `buffer`. On `packet`, `consumed` is its length.
  // On `error`, `error()` says what was wrong.
  Status decode(std::string_view buffer, std::size_t& consumed, ServerPacket& out);
  const std::string& error() const { return error_; }

 private:
  Status fail(std::string why);

  std::size_t max_packet_;
  std::string error_;
};

}  // namespace fieldlink::hub::mqtt
