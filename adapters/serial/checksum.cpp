#include "adapters/serial/checksum.hpp"

namespace fieldlink::serial {

std::uint16_t checksum(ChecksumKind kind, std::string_view bytes) {
  switch (kind) {
    case ChecksumKind::none:
      return 0;
    case ChecksumKind::sum8: {
      std::uint8_t s = 0;
      for (const char c : bytes)
        s = static_cast<std::uint8_t>(s + static_cast<std::uint8_t>(c));
      return s;
    }
    case ChecksumKind::xor8: {
      std::uint8_t x = 0;
      for (const char c : bytes)
        x ^= static_cast<std::uint8_t>(c);
      return x;
    }
    case ChecksumKind::crc16_modbus: {
      std::uint16_t crc = 0xFFFF;
      for (const char c : bytes) {
        crc ^= static_cast<std::uint8_t>(c);
        for (int i = 0; i < 8; ++i)
          crc = (crc & 1) ? static_cast<std::uint16_t>((crc >> 1) ^ 0xA001)
                          : static_cast<std::uint16_t>(crc >> 1);
      }
      return crc;
    }
    case ChecksumKind::crc16_ccitt: {
      std::uint16_t crc = 0xFFFF;
      for (const char c : bytes) {
        crc ^= static_cast<std::uint16_t>(static_cast<std::uint8_t>(c) << 8);
        for (int i = 0; i < 8; ++i)
          crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                               : static_cast<std::uint16_t>(crc << 1);
      }
      return crc;
    }
  }
  return 0;
}

std::size_t checksum_width(ChecksumKind kind) {
  switch (kind) {
    case ChecksumKind::none:
      return 0;
    case ChecksumKind::sum8:
    case ChecksumKind::xor8:
      return 1;
    case ChecksumKind::crc16_modbus:
    case ChecksumKind::crc16_ccitt:
      return 2;
  }
  return 0;
}

}  // namespace fieldlink::serial
