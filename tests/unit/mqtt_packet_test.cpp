#include "hub/mqtt/packet.hpp"

#include <gtest/gtest.h>

namespace fieldlink::hub::mqtt {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int v : b)
    s += static_cast<char>(v);
  return s;
}

PacketDecoder::Status decode_one(std::string_view in, ServerPacket& out,
                                 std::size_t* used = nullptr, std::size_t max = 1024) {
  PacketDecoder d(max);
  std::size_t consumed = 0;
  auto st = d.decode(in, consumed, out);
  if (used) *used = consumed;
  return st;
}

TEST(MqttEncode, ConnectForAnIdentityWithSas) {
  Connect c{"dev", "h/dev/?api-version=1", std::string("pw"), 240, false};
  // remaining length: 10 (variable header) + 2+3 (client id) + 2+20 (user) + 2+2 (password)
  EXPECT_EQ(encode(c), bytes({0x10, 41, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xC0, 0, 240, 0, 3, 'd', 'e',
                              'v', 0, 20}) +
                           "h/dev/?api-version=1" + bytes({0, 2, 'p', 'w'}));
  Connect x509{"dev", "u", std::nullopt, 60, false};
  EXPECT_EQ(static_cast<unsigned char>(encode(x509)[9]), 0x80);  // user name only
}

TEST(MqttConnack, ReturnCodesAreNamed) {
  EXPECT_EQ(connack_text(4), "bad user name or password");
  EXPECT_EQ(connack_text(5), "not authorized");
  EXPECT_EQ(connack_text(9), "refused with code 9");
}

TEST(MqttEncode, AnonymousConnectCarriesNoUserNameField) {
  // A local broker's anonymous client: an empty user name would be a user name (and refused by a
  // broker with a password file), so the flag and the field are left out.
  Connect c{"gw", std::nullopt, std::nullopt, 30, false};
  EXPECT_EQ(encode(c), bytes({0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x00, 0, 30, 0, 2, 'g', 'w'}));
}

TEST(MqttEncode, PublishQos1AndLongRemainingLength) {
  Publish p{"t", std::string(200, 'x'), 1, true, false, 0x0102};
  const auto out = encode(p);
  // 2 + 1 + 2 + 200 = 205 → remaining length 0xCD 0x01
  EXPECT_EQ(out.substr(0, 8), bytes({0x3A, 0xCD, 0x01, 0, 1, 't', 1, 2}));
  EXPECT_EQ(out.size(), 3u + 205u);
}

TEST(MqttEncode, SubscribePubackPingDisconnect) {
  Subscribe s{7, {{"a/#", 1}}};
  EXPECT_EQ(encode(s), bytes({0x82, 8, 0, 7, 0, 3, 'a', '/', '#', 1}));
  EXPECT_EQ(encode(Puback{0x1234}), bytes({0x40, 2, 0x12, 0x34}));
  EXPECT_EQ(encode_pingreq(), bytes({0xC0, 0}));
  EXPECT_EQ(encode_disconnect(), bytes({0xE0, 0}));
}

TEST(MqttDecode, ServerPackets) {
  ServerPacket p;
  ASSERT_EQ(decode_one(bytes({0x20, 2, 0, 5}), p), PacketDecoder::Status::packet);
  EXPECT_EQ(std::get<Connack>(p).return_code, 5);
  ASSERT_EQ(decode_one(bytes({0x40, 2, 0, 9}), p), PacketDecoder::Status::packet);
  EXPECT_EQ(std::get<Puback>(p).packet_id, 9);
  ASSERT_EQ(decode_one(bytes({0x90, 4, 0, 1, 1, 0x80}), p), PacketDecoder::Status::packet);
  EXPECT_EQ(std::get<Suback>(p).return_codes, (std::vector<std::uint8_t>{1, 0x80}));
  ASSERT_EQ(decode_one(bytes({0xD0, 0}), p), PacketDecoder::Status::packet);
  std::size_t used = 0;
  const auto pub = bytes({0x32, 8, 0, 1, 't', 0, 3}) + "abc" + "trailing";
  ASSERT_EQ(decode_one(pub, p, &used), PacketDecoder::Status::packet);
  EXPECT_EQ(used, 10u);
  const auto& publish = std::get<Publish>(p);
  EXPECT_EQ(publish.topic, "t");
  EXPECT_EQ(publish.packet_id, 3);
  EXPECT_EQ(publish.payload, "abc");
}

TEST(MqttDecode, TruncatedInputAsksForMore) {
  ServerPacket p;
  const auto full = bytes({0x32, 8, 0, 1, 't', 0, 3, 'a', 'b', 'c'});
  for (std::size_t n = 0; n < full.size(); ++n) {
    EXPECT_EQ(decode_one(full.substr(0, n), p), PacketDecoder::Status::need_more) << n;
  }
}

TEST(MqttDecode, MalformedPacketsAreErrorsNotCrashes) {
  const std::vector<std::string> bad{
      bytes({0x20, 3, 0, 0, 0}),                    // CONNACK too long
      bytes({0x21, 2, 0, 0}),                       // CONNACK with flags
      bytes({0x20, 2, 0xFE, 0}),                    // CONNACK reserved bits
      bytes({0x36, 5, 0, 1, 't', 0, 1}),            // PUBLISH QoS 3
      bytes({0x32, 3, 0, 5, 't'}),                  // topic longer than the packet
      bytes({0x30, 2, 0, 0}),                       // empty topic
      bytes({0x32, 5, 0, 1, 't', 0, 0}),            // packet id 0
      bytes({0x40, 3, 0, 1, 0}),                    // PUBACK too long
      bytes({0x90, 3, 0, 1, 7}),                    // SUBACK bad code
      bytes({0xD0, 1, 0}),                          // PINGRESP with a body
      bytes({0x10, 0}),                             // CONNECT from a server
      bytes({0x80, 0}),                             // SUBSCRIBE from a server
      bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}),  // 5-byte remaining length
      bytes({0x30, 0x80, 0x80, 0x80, 0x01}),        // over the packet limit
  };
  for (const auto& b : bad) {
    ServerPacket p;
    EXPECT_EQ(decode_one(b, p), PacketDecoder::Status::error) << testing::PrintToString(b);
  }
}

TEST(MqttDecode, RandomBytesNeverCrash) {
  std::uint32_t x = 12345;
  for (int round = 0; round < 20000; ++round) {
    std::string b;
    const auto len = (x = x * 1103515245 + 12345) % 12;
    for (std::uint32_t i = 0; i < len; ++i)
      b += static_cast<char>((x = x * 1103515245 + 12345) >> 16);
    ServerPacket p;
    std::size_t used = 0;
    PacketDecoder d(64);
    const auto st = d.decode(b, used, p);
    if (st == PacketDecoder::Status::packet) {
      EXPECT_LE(used, b.size());
    }
  }
}

}  // namespace
}  // namespace fieldlink::hub::mqtt
