// libFuzzer target: the hub session's MQTT packet decoder over bytes a server could send. The
// input is decoded as a stream, as the connection does: packet after packet until an error or
// the need for more bytes. `consumed` must always stay inside the buffer and move forward.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "hub/mqtt/packet.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using fieldlink::hub::mqtt::PacketDecoder;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  // A small limit too, so that the over-limit path is reached with small inputs.
  for (const std::size_t max_packet : {std::size_t{64}, std::size_t{268435455}}) {
    PacketDecoder decoder(max_packet);
    std::string_view buffer = rest;
    while (!buffer.empty()) {
      std::size_t consumed = 0;
      fieldlink::hub::mqtt::ServerPacket packet;
      const auto status = decoder.decode(buffer, consumed, packet);
      if (status != PacketDecoder::Status::packet) break;
      if (consumed == 0 || consumed > buffer.size()) std::abort();
      buffer.remove_prefix(consumed);
    }
  }
  return 0;
}
