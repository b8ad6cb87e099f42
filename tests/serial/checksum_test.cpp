// Checksums against the published check values of each algorithm ("123456789").
#include "adapters/serial/checksum.hpp"

#include <gtest/gtest.h>

namespace fieldlink::serial {
namespace {

TEST(Checksum, KnownCheckValues) {
  EXPECT_EQ(checksum(ChecksumKind::crc16_modbus, "123456789"), 0x4B37);
  EXPECT_EQ(checksum(ChecksumKind::crc16_ccitt, "123456789"), 0x29B1);  // CCITT-FALSE
  EXPECT_EQ(checksum(ChecksumKind::sum8, "123456789"), 0xDD);           // 477 mod 256
  EXPECT_EQ(checksum(ChecksumKind::xor8, "123456789"), 0x31);
}

TEST(Checksum, ModbusRequestFrame) {
  // Read holding registers, unit 1, address 0, count 10: CRC bytes on the wire are C5 CD.
  const std::string pdu("\x01\x03\x00\x00\x00\x0A", 6);
  EXPECT_EQ(checksum(ChecksumKind::crc16_modbus, pdu), 0xCDC5);
}

TEST(Checksum, EmptyInputIsTheInitialValue) {
  EXPECT_EQ(checksum(ChecksumKind::crc16_modbus, ""), 0xFFFF);
  EXPECT_EQ(checksum(ChecksumKind::crc16_ccitt, ""), 0xFFFF);
  EXPECT_EQ(checksum(ChecksumKind::sum8, ""), 0);
  EXPECT_EQ(checksum(ChecksumKind::xor8, ""), 0);
}

TEST(Checksum, SumWrapsAndXorCancels) {
  EXPECT_EQ(checksum(ChecksumKind::sum8, std::string("\xFF\x02", 2)), 0x01);
  EXPECT_EQ(checksum(ChecksumKind::xor8, std::string("\x5A\x5A", 2)), 0x00);
}

TEST(Checksum, Widths) {
  EXPECT_EQ(checksum_width(ChecksumKind::none), 0u);
  EXPECT_EQ(checksum_width(ChecksumKind::sum8), 1u);
  EXPECT_EQ(checksum_width(ChecksumKind::xor8), 1u);
  EXPECT_EQ(checksum_width(ChecksumKind::crc16_modbus), 2u);
  EXPECT_EQ(checksum_width(ChecksumKind::crc16_ccitt), 2u);
}

}  // namespace
}  // namespace fieldlink::serial
