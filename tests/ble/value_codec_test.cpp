// Every decoder and encoder of the BLE adapter against known vectors: the byte patterns are
// worked out by hand from the type definitions (IEEE-754, IEEE-11073-20601 SFLOAT/FLOAT, the
// GATT Temperature characteristic 0x2A6E), not produced by the code under test.
#include "adapters/ble/value_codec.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace fieldlink::ble {
namespace {

using nlohmann::json;

FieldCodec codec(ValueType t, Endian e = Endian::little, std::size_t offset = 0, double scale = 1.0,
                 double add = 0.0, std::size_t length = 0) {
  return FieldCodec{t, e, offset, length, scale, add};
}

Value decoded(const FieldCodec& c, const Bytes& b) {
  const auto d = decode(c, b);
  EXPECT_TRUE(d.value) << d.error;
  return d.value.value_or(Value(std::string("<none>")));
}

double real(const FieldCodec& c, const Bytes& b) {
  const auto v = decoded(c, b);
  EXPECT_TRUE(std::holds_alternative<double>(v));
  return std::holds_alternative<double>(v) ? std::get<double>(v) : -1e300;
}

TEST(ValueCodec, UnsignedIntegersBothByteOrders) {
  EXPECT_EQ(decoded(codec(ValueType::uint8), {0xFF}), Value(std::int64_t{255}));
  EXPECT_EQ(decoded(codec(ValueType::uint16), {0x34, 0x12}), Value(std::int64_t{0x1234}));
  EXPECT_EQ(decoded(codec(ValueType::uint16, Endian::big), {0x34, 0x12}),
            Value(std::int64_t{0x3412}));
  EXPECT_EQ(decoded(codec(ValueType::uint32), {0x78, 0x56, 0x34, 0x12}),
            Value(std::int64_t{0x12345678}));
  EXPECT_EQ(decoded(codec(ValueType::uint32, Endian::big), {0xFF, 0xFF, 0xFF, 0xFE}),
            Value(std::int64_t{4294967294}));
}

TEST(ValueCodec, SignedIntegersBothByteOrders) {
  EXPECT_EQ(decoded(codec(ValueType::int8), {0x80}), Value(std::int64_t{-128}));
  EXPECT_EQ(decoded(codec(ValueType::int8), {0x7F}), Value(std::int64_t{127}));
  EXPECT_EQ(decoded(codec(ValueType::int16), {0xFE, 0xFF}), Value(std::int64_t{-2}));
  EXPECT_EQ(decoded(codec(ValueType::int16, Endian::big), {0x80, 0x00}),
            Value(std::int64_t{-32768}));
  EXPECT_EQ(decoded(codec(ValueType::int32, Endian::big), {0xFF, 0xFF, 0xFF, 0xFE}),
            Value(std::int64_t{-2}));
  EXPECT_EQ(decoded(codec(ValueType::int32), {0x00, 0x00, 0x00, 0x80}),
            Value(std::int64_t{-2147483648LL}));
}

TEST(ValueCodec, OffsetScaleAndValueOffset) {
  // GATT Temperature (0x2A6E): sint16, 0.01 °C, little endian. 0x085A = 2138 → 21.38 °C.
  EXPECT_DOUBLE_EQ(real(codec(ValueType::int16, Endian::little, 0, 0.01), {0x5A, 0x08}), 21.38);
  EXPECT_DOUBLE_EQ(real(codec(ValueType::int16, Endian::little, 0, 0.01), {0xA6, 0xF7}), -21.38);
  // A value in the middle of a frame.
  EXPECT_EQ(decoded(codec(ValueType::uint16, Endian::big, 1), {0x00, 0x12, 0x34, 0x99}),
            Value(std::int64_t{0x1234}));
  // raw × scale + value_offset: 10 × 0.5 − 40 = −35.
  EXPECT_DOUBLE_EQ(real(codec(ValueType::uint8, Endian::little, 0, 0.5, -40), {10}), -35.0);
  // The contract's advertiser field: int16 big endian at offset 1, × 0.005 → 0x0FA0 = 4000 → 20.
  EXPECT_DOUBLE_EQ(real(codec(ValueType::int16, Endian::big, 1, 0.005), {0x01, 0x0F, 0xA0}), 20.0);
}

TEST(ValueCodec, Float32) {
  EXPECT_DOUBLE_EQ(real(codec(ValueType::float32), {0x00, 0x00, 0xC0, 0x3F}), 1.5);
  EXPECT_DOUBLE_EQ(real(codec(ValueType::float32, Endian::big), {0xC1, 0x20, 0x00, 0x00}), -10.0);
  const auto nan = decode(codec(ValueType::float32), {0x00, 0x00, 0xC0, 0x7F});
  ASSERT_TRUE(nan.value);
  EXPECT_TRUE(nan.special);
  EXPECT_EQ(*nan.value, Value(std::string("NaN")));
}

TEST(ValueCodec, Sfloat) {
  // 36.4 = 364 × 10^-1: mantissa 0x16C, exponent 0xF → 0xF16C, sent little endian.
  EXPECT_DOUBLE_EQ(real(codec(ValueType::sfloat), {0x6C, 0xF1}), 36.4);
  EXPECT_DOUBLE_EQ(real(codec(ValueType::sfloat), {0x72, 0x00}), 114.0);
  EXPECT_DOUBLE_EQ(real(codec(ValueType::sfloat), {0x05, 0x20}), 500.0);  // 5 × 10^2
  EXPECT_DOUBLE_EQ(real(codec(ValueType::sfloat), {0xF1, 0xFF}), -1.5);   // −15 × 10^-1
  EXPECT_DOUBLE_EQ(real(codec(ValueType::sfloat, Endian::big), {0xF1, 0x6C}), 36.4);
}

TEST(ValueCodec, SfloatSpecialValues) {
  const std::pair<Bytes, const char*> cases[] = {{{0xFF, 0x07}, "NaN"},
                                                 {{0x00, 0x08}, "NRes"},
                                                 {{0xFE, 0x07}, "+INF"},
                                                 {{0x02, 0x08}, "-INF"},
                                                 {{0x01, 0x08}, "reserved"}};
  for (const auto& [bytes, name] : cases) {
    const auto d = decode(codec(ValueType::sfloat), bytes);
    ASSERT_TRUE(d.value) << name;
    EXPECT_TRUE(d.special) << name;
    EXPECT_EQ(*d.value, Value(std::string(name)));
  }
  // The same mantissa with a non-zero exponent is an ordinary number: 2047 × 10^1.
  EXPECT_DOUBLE_EQ(real(codec(ValueType::sfloat), {0xFF, 0x17}), 20470.0);
}

TEST(ValueCodec, Float11073) {
  // 36.4 = 364 × 10^-1: mantissa 0x00016C, exponent 0xFF.
  EXPECT_DOUBLE_EQ(real(codec(ValueType::float11), {0x6C, 0x01, 0x00, 0xFF}), 36.4);
  EXPECT_DOUBLE_EQ(real(codec(ValueType::float11), {0xE7, 0xFF, 0xFF, 0xFF}), -2.5);
  EXPECT_DOUBLE_EQ(real(codec(ValueType::float11), {0x07, 0x00, 0x00, 0x03}), 7000.0);
  const std::pair<Bytes, const char*> cases[] = {{{0xFF, 0xFF, 0x7F, 0x00}, "NaN"},
                                                 {{0x00, 0x00, 0x80, 0x00}, "NRes"},
                                                 {{0xFE, 0xFF, 0x7F, 0x00}, "+INF"},
                                                 {{0x02, 0x00, 0x80, 0x00}, "-INF"}};
  for (const auto& [bytes, name] : cases) {
    const auto d = decode(codec(ValueType::float11), bytes);
    ASSERT_TRUE(d.value) << name;
    EXPECT_TRUE(d.special) << name;
    EXPECT_EQ(*d.value, Value(std::string(name)));
  }
}

TEST(ValueCodec, RawHex) {
  const Bytes b{0x01, 0xAB, 0xCD, 0xEF};
  EXPECT_EQ(decoded(codec(ValueType::hex), b), Value(std::string("01abcdef")));
  EXPECT_EQ(decoded(codec(ValueType::hex, Endian::little, 1, 1, 0, 2), b),
            Value(std::string("abcd")));
  EXPECT_EQ(decoded(codec(ValueType::hex, Endian::little, 1), b), Value(std::string("abcdef")));
}

TEST(ValueCodec, ShortValuesAreErrorsNotGarbage) {
  auto d = decode(codec(ValueType::uint16), {0x01});
  EXPECT_FALSE(d.value);
  EXPECT_EQ(d.error, "uint16 at offset 0 needs 2 byte(s), the value has 1");
  EXPECT_FALSE(decode(codec(ValueType::int32, Endian::little, 2), {1, 2, 3, 4, 5}).value);
  EXPECT_FALSE(decode(codec(ValueType::hex, Endian::little, 4), {1, 2, 3, 4}).value);
  EXPECT_FALSE(decode(codec(ValueType::hex, Endian::little, 0, 1, 0, 5), {1, 2, 3, 4}).value);
  EXPECT_FALSE(decode(codec(ValueType::uint8), {}).value);
}

Bytes encoded(const FieldCodec& c, const json& v) {
  const auto e = encode(c, v);
  EXPECT_TRUE(e.bytes) << e.error;
  return e.bytes.value_or(Bytes{});
}

TEST(ValueCodec, EncodersAreTheInverse) {
  EXPECT_EQ(encoded(codec(ValueType::uint8), 255), (Bytes{0xFF}));
  EXPECT_EQ(encoded(codec(ValueType::uint8), true), (Bytes{0x01}));
  EXPECT_EQ(encoded(codec(ValueType::uint16), 0x1234), (Bytes{0x34, 0x12}));
  EXPECT_EQ(encoded(codec(ValueType::uint16, Endian::big), 0x1234), (Bytes{0x12, 0x34}));
  EXPECT_EQ(encoded(codec(ValueType::int16), -2), (Bytes{0xFE, 0xFF}));
  EXPECT_EQ(encoded(codec(ValueType::int32, Endian::big), -2), (Bytes{0xFF, 0xFF, 0xFF, 0xFE}));
  EXPECT_EQ(encoded(codec(ValueType::uint32), 305419896), (Bytes{0x78, 0x56, 0x34, 0x12}));
  EXPECT_EQ(encoded(codec(ValueType::int16, Endian::little, 0, 0.01), 21.38), (Bytes{0x5A, 0x08}));
  EXPECT_EQ(encoded(codec(ValueType::uint8, Endian::little, 0, 0.5, -40), -35), (Bytes{10}));
  EXPECT_EQ(encoded(codec(ValueType::float32), 1.5), (Bytes{0x00, 0x00, 0xC0, 0x3F}));
  EXPECT_EQ(encoded(codec(ValueType::sfloat), 36.4), (Bytes{0x6C, 0xF1}));
  EXPECT_EQ(encoded(codec(ValueType::sfloat), -1.5), (Bytes{0xF1, 0xFF}));
  EXPECT_EQ(encoded(codec(ValueType::sfloat), 114), (Bytes{0x72, 0x00}));
  EXPECT_EQ(encoded(codec(ValueType::sfloat), "NaN"), (Bytes{0xFF, 0x07}));
  EXPECT_EQ(encoded(codec(ValueType::sfloat), "-INF"), (Bytes{0x02, 0x08}));
  EXPECT_EQ(encoded(codec(ValueType::float11), 36.4), (Bytes{0x6C, 0x01, 0x00, 0xFF}));
  EXPECT_EQ(encoded(codec(ValueType::float11), "+INF"), (Bytes{0xFE, 0xFF, 0x7F, 0x00}));
  EXPECT_EQ(encoded(codec(ValueType::hex), "0a1B"), (Bytes{0x0A, 0x1B}));
  EXPECT_EQ(encoded(codec(ValueType::hex), "0a:1b:2c"), (Bytes{0x0A, 0x1B, 0x2C}));
}

TEST(ValueCodec, RoundTrips) {
  const std::pair<FieldCodec, double> cases[] = {
      {codec(ValueType::sfloat), 0.25},
      {codec(ValueType::sfloat), -204.5},
      {codec(ValueType::sfloat), 1.0e6},
      {codec(ValueType::float11), 98.6},
      {codec(ValueType::float11), -0.001},
      {codec(ValueType::int32, Endian::big, 0, 0.1), -12.3},
      {codec(ValueType::uint16, Endian::little, 0, 0.01, 10), 42.42}};
  for (const auto& [c, v] : cases) {
    const auto bytes = encoded(c, v);
    EXPECT_NEAR(real(c, bytes), v, std::abs(v) * 1e-9) << v;
  }
}

TEST(ValueCodec, EncoderRefusesWhatDoesNotFit) {
  EXPECT_EQ(encode(codec(ValueType::uint8), 256).error, "256.0 is out of range for uint8");
  EXPECT_FALSE(encode(codec(ValueType::uint8), -1).bytes);
  EXPECT_FALSE(encode(codec(ValueType::int8), -129).bytes);
  EXPECT_FALSE(encode(codec(ValueType::int16, Endian::little, 0, 0.01), 400).bytes);
  EXPECT_FALSE(encode(codec(ValueType::uint16), "12").bytes);
  EXPECT_FALSE(encode(codec(ValueType::float32), 1e300).bytes);
  EXPECT_FALSE(encode(codec(ValueType::sfloat), "reserved").bytes);
  EXPECT_FALSE(encode(codec(ValueType::sfloat), 1e12).bytes);
  EXPECT_FALSE(encode(codec(ValueType::hex), "0g").bytes);
  EXPECT_FALSE(encode(codec(ValueType::hex), "abc").bytes);
  EXPECT_FALSE(encode(codec(ValueType::hex, Endian::little, 0, 1, 0, 2), "0a").bytes);
}

TEST(ValueCodec, HexText) {
  EXPECT_EQ(to_hex({0x00, 0x7F, 0xFF}), "007fff");
  EXPECT_EQ(from_hex("0x007FFF"), (Bytes{0x00, 0x7F, 0xFF}));
  EXPECT_EQ(from_hex(""), Bytes{});
  EXPECT_FALSE(from_hex("0 7"));
}

}  // namespace
}  // namespace fieldlink::ble
