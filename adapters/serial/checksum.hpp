#pragma once
// Frame checksums of serial devices, verified before a frame's fields are used. Pure functions.
// sum8: byte sum mod 256; xor8: XOR of all bytes (the BCC of many STX/ETX protocols);
// crc16-modbus: poly 0x8005 reflected, init 0xFFFF ("123456789" → 0x4B37);
// crc16-ccitt: CRC-16/CCITT-FALSE, poly 0x1021, init 0xFFFF ("123456789" → 0x29B1).
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fieldlink::serial {

enum class ChecksumKind { none, sum8, xor8, crc16_modbus, crc16_ccitt };

std::uint16_t checksum(ChecksumKind kind, std::string_view bytes);
// Bytes the checksum takes in a frame: 0, 1 or 2.
std::size_t checksum_width(ChecksumKind kind);

}  // namespace fieldlink::serial
