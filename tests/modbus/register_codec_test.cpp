// Encode/decode of every point type in every byte order against known vectors (computed with
// Python's struct module, big-endian, then split into registers by hand for each order).
#include <gtest/gtest.h>

#include "adapters/modbus/register_codec.hpp"

namespace fieldlink::modbus {
namespace {

using K = PointType::Kind;
using Words = std::vector<std::uint16_t>;

Point point(PointType type, WordOrder order = WordOrder::abcd) {
  Point p;
  p.name = "p";
  p.type = type;
  p.order = order;
  p.writable = true;
  return p;
}

Value decode_one(const Point& p, const Words& w) {
  std::vector<std::pair<std::string, Value>> out;
  decode_point(p, w, out);
  EXPECT_EQ(out.size(), 1u);
  return out.at(0).second;
}

struct Vector {
  PointType type;
  WordOrder order;
  Words words;
  Value value;
};

void PrintTo(const Vector& v, std::ostream* os) {
  *os << v.type.name() << " order " << static_cast<int>(v.order);
}

class CodecVectors : public ::testing::TestWithParam<Vector> {};

TEST_P(CodecVectors, DecodesExactly) {
  const auto& v = GetParam();
  EXPECT_EQ(decode_one(point(v.type, v.order), v.words), v.value);
}

TEST_P(CodecVectors, EncodesToTheSameWords) {
  const auto& v = GetParam();
  const auto e = encode_point(point(v.type, v.order), v.value);
  ASSERT_EQ(e.error, "");
  EXPECT_EQ(e.words, v.words);
}

constexpr auto A = WordOrder::abcd, C = WordOrder::cdab, B = WordOrder::badc, D = WordOrder::dcba;

INSTANTIATE_TEST_SUITE_P(
    EveryTypeAndOrder, CodecVectors,
    ::testing::Values(
        // The field lesson: a PLC's 4002.5 in CDAB, shown as 10240 by gateways reading one word.
        Vector{{K::float32}, C, {0x2800, 0x457A}, 4002.5},
        Vector{{K::float32}, A, {0x457A, 0x2800}, 4002.5},
        Vector{{K::float32}, B, {0x7A45, 0x0028}, 4002.5},
        Vector{{K::float32}, D, {0x0028, 0x7A45}, 4002.5},
        // 0.1f is reported as the 0.1 the device meant, not 0.10000000149011612.
        Vector{{K::float32}, A, {0x3DCC, 0xCCCD}, 0.1},
        Vector{{K::int16}, A, {0xFFFE}, std::int64_t{-2}},
        Vector{{K::int16}, C, {0xFFFE}, std::int64_t{-2}},
        Vector{{K::int16}, B, {0xFEFF}, std::int64_t{-2}},
        Vector{{K::int16}, D, {0xFEFF}, std::int64_t{-2}},
        Vector{{K::uint16}, A, {0xFFFF}, std::int64_t{65535}},
        Vector{{K::uint16}, B, {0x3412}, std::int64_t{0x1234}},
        Vector{{K::int32}, A, {0xF8A4, 0x32EB}, std::int64_t{-123456789}},
        Vector{{K::int32}, C, {0x32EB, 0xF8A4}, std::int64_t{-123456789}},
        Vector{{K::int32}, B, {0xA4F8, 0xEB32}, std::int64_t{-123456789}},
        Vector{{K::int32}, D, {0xEB32, 0xA4F8}, std::int64_t{-123456789}},
        Vector{{K::uint32}, A, {0xEE6B, 0x2800}, std::int64_t{4000000000}},
        Vector{{K::uint32}, C, {0x2800, 0xEE6B}, std::int64_t{4000000000}},
        Vector{{K::uint32}, B, {0x6BEE, 0x0028}, std::int64_t{4000000000}},
        Vector{{K::uint32}, D, {0x0028, 0x6BEE}, std::int64_t{4000000000}},
        Vector{{K::int64}, A, {0xEEDD, 0xEF0B, 0x8216, 0x7EEB}, std::int64_t{-1234567890123456789}},
        Vector{{K::int64}, C, {0x7EEB, 0x8216, 0xEF0B, 0xEEDD}, std::int64_t{-1234567890123456789}},
        Vector{{K::int64}, B, {0xDDEE, 0x0BEF, 0x1682, 0xEB7E}, std::int64_t{-1234567890123456789}},
        Vector{{K::int64}, D, {0xEB7E, 0x1682, 0x0BEF, 0xDDEE}, std::int64_t{-1234567890123456789}},
        Vector{{K::uint64}, A, {0x0123, 0x4567, 0x89AB, 0xCDEF}, std::uint64_t{0x0123456789ABCDEF}},
        Vector{{K::uint64}, C, {0xCDEF, 0x89AB, 0x4567, 0x0123}, std::uint64_t{0x0123456789ABCDEF}},
        Vector{{K::uint64}, B, {0x2301, 0x6745, 0xAB89, 0xEFCD}, std::uint64_t{0x0123456789ABCDEF}},
        Vector{{K::uint64}, D, {0xEFCD, 0xAB89, 0x6745, 0x2301}, std::uint64_t{0x0123456789ABCDEF}},
        // Above 2^53: must stay an exact integer, never pass through a double.
        Vector{
            {K::uint64}, A, {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, std::uint64_t{18446744073709551615u}},
        Vector{{K::float64}, A, {0xC093, 0x4A45, 0x6D5C, 0xFAAD}, -1234.5678},
        Vector{{K::float64}, C, {0xFAAD, 0x6D5C, 0x4A45, 0xC093}, -1234.5678},
        Vector{{K::float64}, B, {0x93C0, 0x454A, 0x5C6D, 0xADFA}, -1234.5678},
        Vector{{K::float64}, D, {0xADFA, 0x5C6D, 0x454A, 0x93C0}, -1234.5678},
        Vector{{K::boolean}, A, {0x0001}, true}, Vector{{K::boolean}, A, {0x0000}, false},
        Vector{{K::text, 7}, A, {0x464C, 0x2D30, 0x3034, 0x3200}, std::string("FL-0042")},
        Vector{{K::text, 7}, B, {0x4C46, 0x302D, 0x3430, 0x0032}, std::string("FL-0042")},
        Vector{{K::text, 10}, A, {0x4142, 0x4300, 0x0000, 0x0000, 0x0000}, std::string("ABC")}));

TEST(RegisterCodec, BitsGiveSixteenNamedFlags) {
  std::vector<std::pair<std::string, Value>> out;
  decode_point(point({K::bits}), Words{0x8005}, out);
  ASSERT_EQ(out.size(), 16u);
  EXPECT_EQ(out[0], (std::pair<std::string, Value>{"p.0", true}));
  EXPECT_EQ(out[1].second, Value(false));
  EXPECT_EQ(out[2].second, Value(true));
  EXPECT_EQ(out[15], (std::pair<std::string, Value>{"p.15", true}));
}

TEST(RegisterCodec, CoilsAreBools) {
  auto p = point({K::boolean});
  p.table = Table::coil;
  EXPECT_EQ(decode_one(p, {1}), Value(true));
  EXPECT_EQ(encode_point(p, Value(std::int64_t{0})).words, Words{0});
}

TEST(RegisterCodec, ScaleAndOffsetGiveEngineeringValues) {
  auto p = point({K::int16});
  p.scale = 0.1;
  EXPECT_EQ(decode_one(p, {215}), Value(21.5));
  EXPECT_EQ(decode_one(p, {3}), Value(0.3));  // not 0.30000000000000004
  EXPECT_EQ(encode_point(p, Value(21.5)).words, Words{215});
  EXPECT_EQ(encode_point(p, Value(-0.3)).words, Words{0xFFFD});
  p.scale = 0.01;
  p.offset = -40;
  EXPECT_EQ(decode_one(p, {6000}), Value(20.0));
  EXPECT_EQ(encode_point(p, Value(20.0)).words, Words{6000});
}

TEST(RegisterCodec, RefusesValuesThatCannotBeWrittenExactly) {
  auto p = point({K::int16});
  EXPECT_NE(encode_point(p, Value(std::int64_t{40000})).error.find("outside int16"),
            std::string::npos);
  EXPECT_NE(encode_point(p, Value(1.5)).error.find("not a whole number"), std::string::npos);
  EXPECT_NE(encode_point(p, Value(std::string("7"))).error.find("expected a number"),
            std::string::npos);
  p.scale = 0.1;
  EXPECT_NE(encode_point(p, Value(21.55)).error.find("not a multiple"), std::string::npos);
  p.min = 5;
  p.max = 90;
  EXPECT_NE(encode_point(p, Value(95.0)).error.find("outside the point's range 5 .. 90"),
            std::string::npos);
  auto u = point({K::uint32});
  EXPECT_NE(encode_point(u, Value(std::int64_t{-1})).error, "");
  EXPECT_NE(encode_point(point({K::text, 4}), Value(std::string("12345"))).error, "");
  EXPECT_NE(encode_point(point({K::boolean}), Value(std::int64_t{2})).error, "");
  EXPECT_NE(encode_point(point({K::float32}), Value(1e39)).error, "");
}

}  // namespace
}  // namespace fieldlink::modbus
