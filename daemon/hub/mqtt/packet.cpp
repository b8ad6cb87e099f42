#include "hub/mqtt/packet.hpp"

namespace fieldlink::hub::mqtt {
namespace {

enum Type : std::uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kSubscribe = 8,
  kSuback = 9,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
};

void put_u16(std::string& out, std::uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xff);
}

void put_string(std::string& out, std::string_view s) {
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  out.append(s);
}

void put_remaining_length(std::string& out, std::size_t n) {
  do {
    auto byte = static_cast<std::uint8_t>(n % 128);
    n /= 128;
    if (n > 0) byte |= 0x80;
    out += static_cast<char>(byte);
  } while (n > 0);
}

std::string frame(std::uint8_t first_byte, const std::string& body) {
  std::string out;
  out.reserve(body.size() + 5);
  out += static_cast<char>(first_byte);
  put_remaining_length(out, body.size());
  out += body;
  return out;
}

std::uint16_t get_u16(std::string_view b, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<std::uint8_t>(b[at]) << 8) |
                                    static_cast<std::uint8_t>(b[at + 1]));
}

}  // namespace

std::string encode(const Connect& p) {
  std::string body;
  put_string(body, "MQTT");
  body += static_cast<char>(4);  // protocol level 3.1.1
  std::uint8_t flags = 0;
  if (p.username) flags |= 0x80;
  if (p.password) flags |= 0x40;
  if (p.clean_session) flags |= 0x02;
  body += static_cast<char>(flags);
  put_u16(body, p.keepalive_seconds);
  put_string(body, p.client_id);
  if (p.username) put_string(body, *p.username);
  if (p.password) put_string(body, *p.password);
  return frame(kConnect << 4, body);
}

std::string encode(const Publish& p) {
  return encode_publish(p, p.payload);
}

std::string encode_publish(const Publish& p, std::string_view payload) {
  std::string out;
  const std::size_t length = 2 + p.topic.size() + (p.qos > 0 ? 2 : 0) + payload.size();
  out.reserve(length + 5);
  out +=
      static_cast<char>((kPublish << 4) | (p.dup ? 0x08 : 0) | (p.qos << 1) | (p.retain ? 1 : 0));
  put_remaining_length(out, length);
  put_string(out, p.topic);
  if (p.qos > 0) put_u16(out, p.packet_id);
  out += payload;
  return out;
}

std::string encode(const Puback& p) {
  std::string body;
  put_u16(body, p.packet_id);
  return frame(kPuback << 4, body);
}

std::string encode(const Subscribe& p) {
  std::string body;
  put_u16(body, p.packet_id);
  for (const auto& [filter, qos] : p.filters) {
    put_string(body, filter);
    body += static_cast<char>(qos);
  }
  return frame((kSubscribe << 4) | 0x02, body);  // SUBSCRIBE's reserved flags are 0010
}

std::string connack_text(std::uint8_t return_code) {
  switch (return_code) {
    case 1:
      return "unacceptable protocol version";
    case 2:
      return "client identifier rejected";
    case 3:
      return "server unavailable";
    case 4:
      return "bad user name or password";
    case 5:
      return "not authorized";
    default:
      return "refused with code " + std::to_string(return_code);
  }
}

std::string encode_pingreq() {
  return std::string{static_cast<char>(kPingreq << 4), '\0'};
}

std::string encode_disconnect() {
  return std::string{static_cast<char>(kDisconnect << 4), '\0'};
}

PacketDecoder::Status PacketDecoder::fail(std::string why) {
  error_ = std::move(why);
  return Status::error;
}

PacketDecoder::Status PacketDecoder::decode(std::string_view buffer, std::size_t& consumed,
                                            ServerPacket& out) {
  if (buffer.size() < 2) return Status::need_more;
  std::size_t length = 0;
  std::size_t header = 1;
  for (unsigned shift = 0;; shift += 7) {
    if (header >= buffer.size()) return Status::need_more;
    if (header > 4) return fail("remaining length longer than 4 bytes");
    const auto byte = static_cast<std::uint8_t>(buffer[header++]);
    length += static_cast<std::size_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  if (length > max_packet_) {
    return fail("packet of " + std::to_string(length) + " bytes exceeds the limit of " +
                std::to_string(max_packet_));
  }
  if (buffer.size() < header + length) return Status::need_more;
  const auto first = static_cast<std::uint8_t>(buffer[0]);
  const auto type = first >> 4;
  const auto flags = first & 0x0f;
  const auto body = buffer.substr(header, length);
  consumed = header + length;

  switch (type) {
    case kConnack:
      if (flags != 0 || length != 2) return fail("malformed CONNACK");
      if ((static_cast<std::uint8_t>(body[0]) & 0xfe) != 0) return fail("bad CONNACK flags");
      out = Connack{(body[0] & 1) != 0, static_cast<std::uint8_t>(body[1])};
      return Status::packet;
    case kPublish: {
      Publish p;
      p.qos = static_cast<std::uint8_t>((flags >> 1) & 0x03);
      p.dup = (flags & 0x08) != 0;
      p.retain = (flags & 0x01) != 0;
      if (p.qos == 3) return fail("PUBLISH with QoS 3");
      if (length < 2) return fail("truncated PUBLISH");
      const std::size_t topic_len = get_u16(body, 0);
      const std::size_t id_len = p.qos > 0 ? 2 : 0;
      if (2 + topic_len + id_len > length) return fail("truncated PUBLISH");
      p.topic.assign(body.substr(2, topic_len));
      if (p.topic.empty()) return fail("PUBLISH with an empty topic");
      if (p.qos > 0) {
        p.packet_id = get_u16(body, 2 + topic_len);
        if (p.packet_id == 0) return fail("PUBLISH with packet id 0");
      }
      p.payload.assign(body.substr(2 + topic_len + id_len));
      out = std::move(p);
      return Status::packet;
    }
    case kPuback:
      if (flags != 0 || length != 2) return fail("malformed PUBACK");
      out = Puback{get_u16(body, 0)};
      return Status::packet;
    case kSuback: {
      if (flags != 0 || length < 3) return fail("malformed SUBACK");
      Suback s{get_u16(body, 0), {}};
      for (std::size_t i = 2; i < length; ++i) {
        const auto code = static_cast<std::uint8_t>(body[i]);
        if (code > 2 && code != 0x80) return fail("bad SUBACK return code");
        s.return_codes.push_back(code);
      }
      out = std::move(s);
      return Status::packet;
    }
    case kPingresp:
      if (flags != 0 || length != 0) return fail("malformed PINGRESP");
      out = Pingresp{};
      return Status::packet;
    default:
      return fail("unexpected packet type " + std::to_string(type) + " from the server");
  }
}

}  // namespace fieldlink::hub::mqtt
