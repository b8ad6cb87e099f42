// Each parse kind on recorded-style frames, with the exact typed values or the exact fault.
#include "adapters/serial/frame_parser.hpp"

#include <gtest/gtest.h>

#include "adapters/serial/checksum.hpp"

namespace fieldlink::serial {
namespace {

using Values = std::vector<std::pair<std::string, Value>>;

TEST(NamedRegex, NamesMapToTheirGroupsAroundUnnamedAndNonCapturingOnes) {
  std::string why;
  const auto re = NamedRegex::compile(
      R"(^(?<status>ST|US),(GS|NT),(?:\+|-)?(?P<weight>[0-9.]+)(kg|lb)[(](?<n>\d)\)$)", why);
  ASSERT_TRUE(re) << why;
  EXPECT_EQ(re->names(), (std::vector<std::string>{"status", "weight", "n"}));
  std::vector<std::pair<std::string, std::string>> g;
  ASSERT_TRUE(re->search("US,NT,+0012.34kg(7)", &g));
  EXPECT_EQ(g, (decltype(g){{"status", "US"}, {"weight", "0012.34"}, {"n", "7"}}));
  EXPECT_FALSE(re->search("US,XX,+0012.34kg(7)", &g));
}

TEST(NamedRegex, EscapedParenthesesAndClassesAreNotGroups) {
  std::string why;
  const auto re = NamedRegex::compile(R"(\((?<a>[(<]x)\)(?<b>y)?)", why);
  ASSERT_TRUE(re) << why;
  std::vector<std::pair<std::string, std::string>> g;
  ASSERT_TRUE(re->search("((x)", &g));
  EXPECT_EQ(g, (decltype(g){{"a", "(x"}}));  // b did not take part
}

TEST(NamedRegex, BadPatternsSayWhy) {
  std::string why;
  EXPECT_FALSE(NamedRegex::compile("(?<a>x)(?<a>y)", why));
  EXPECT_EQ(why, "group name 'a' is used twice");
  EXPECT_FALSE(NamedRegex::compile("(?<1a>x)", why));
  EXPECT_EQ(
      why, "group name at column 1 must be letters, digits and '_', starting with a letter or '_'");
  EXPECT_FALSE(NamedRegex::compile("(?<a>x", why));
  EXPECT_EQ(why.rfind("invalid regular expression: ", 0), 0u) << why;
}

ParseSettings regex_settings() {
  ParseSettings s;
  s.kind = ParseKind::regex;
  s.pattern = R"(^(?<status>ST|US),GS,(?<weight>[+-]?[0-9.]+)kg$)";
  s.types = {{"weight", FieldType::float64}};
  return s;
}

TEST(FrameParser, RegexScaleLine) {
  const FrameParser p(regex_settings());
  const auto r = p.parse("ST,GS,+0012.34kg");
  ASSERT_TRUE(r.frame) << r.error;
  EXPECT_EQ(r.frame->values, (Values{{"status", std::string("ST")}, {"weight", 12.34}}));
  const auto bad = p.parse("ST,GS,+00x2.34kg");
  EXPECT_EQ(bad.fault, ParseResult::Fault::parse);
  EXPECT_EQ(bad.error, "does not match the pattern: 'ST,GS,+00x2.34kg'");
  const auto wrong = p.parse("ST,GS,1.2.3kg");
  EXPECT_EQ(wrong.error, "field 'weight': '1.2.3' is not a float64");
}

TEST(FrameParser, CsvColumnsTypesAndSkips) {
  ParseSettings s;
  s.kind = ParseKind::csv;
  s.columns = {"voltage", "_", "current", "ok", "count"};
  s.separator = ";";
  s.types = {
      {"voltage", FieldType::float64}, {"ok", FieldType::boolean}, {"count", FieldType::int64}};
  const FrameParser p(s);
  const auto r = p.parse("230.1; x ;4.5A;1;-17");
  ASSERT_TRUE(r.frame) << r.error;
  EXPECT_EQ(r.frame->values, (Values{{"voltage", 230.1},
                                     {"current", std::string("4.5A")},
                                     {"ok", true},
                                     {"count", std::int64_t{-17}}}));
  EXPECT_EQ(p.parse("230.1;x;4.5").error, "3 columns, expected 5");
  EXPECT_EQ(p.parse("230.1;x;4.5;maybe;1").error, "field 'ok': 'maybe' is not a bool");
}

TEST(FrameParser, JsonObjectsFlattenNestedKeys) {
  ParseSettings s;
  s.kind = ParseKind::json;
  const FrameParser p(s);
  const auto r = p.parse(R"({"t":21.5,"n":3,"big":18446744073709551615,"on":true,"id":"a-1",)"
                         R"("env":{"rh":40},"x":null,"l":[1,2]})");
  ASSERT_TRUE(r.frame) << r.error;
  std::map<std::string, Value> v(r.frame->values.begin(), r.frame->values.end());
  EXPECT_EQ(v.at("t"), Value(21.5));
  EXPECT_EQ(v.at("n"), Value(std::int64_t{3}));
  EXPECT_EQ(v.at("big"), Value(std::uint64_t{18446744073709551615u}));
  EXPECT_EQ(v.at("on"), Value(true));
  EXPECT_EQ(v.at("id"), Value(std::string("a-1")));
  EXPECT_EQ(v.at("env.rh"), Value(std::int64_t{40}));
  EXPECT_EQ(v.at("l"), Value(std::string("[1,2]")));
  EXPECT_EQ(v.count("x"), 0u);
  EXPECT_EQ(p.parse("{\"t\":").error, "not JSON: '{\"t\":'");
  EXPECT_EQ(p.parse("[1]").error, "JSON but not an object");
}

TEST(FrameParser, KeyValuePairs) {
  ParseSettings s;
  s.kind = ParseKind::kv;
  s.separator = " ";
  s.types = {{"T", FieldType::float64}, {"P", FieldType::uint64}};
  const FrameParser p(s);
  const auto r = p.parse("T=21.50  P=1013 S=OK");
  ASSERT_TRUE(r.frame) << r.error;
  EXPECT_EQ(r.frame->values,
            (Values{{"T", 21.5}, {"P", std::uint64_t{1013}}, {"S", std::string("OK")}}));
  EXPECT_EQ(p.parse("T=1 garbage").error, "'garbage' is not key=value");
  EXPECT_EQ(p.parse("P=-1").error, "field 'P': '-1' is not a uint64");
  EXPECT_EQ(p.parse("   ").error, "no key=value pairs");
}

ParseSettings binary_settings(ChecksumKind kind) {
  ParseSettings s;
  s.kind = ParseKind::binary;
  s.fields = {{"addr", 0, BinaryType::uint8, ByteOrder::big, 1.0},
              {"temp", 1, BinaryType::int16, ByteOrder::big, 0.1},
              {"count", 3, BinaryType::uint32, ByteOrder::little, 1.0},
              {"level", 7, BinaryType::float32, ByteOrder::big, 1.0}};
  s.checksum = kind;
  s.checksum_order = kind == ChecksumKind::crc16_modbus ? ByteOrder::little : ByteOrder::big;
  s.address = "addr";
  return s;
}

std::string with_checksum(std::string body, ChecksumKind kind, ByteOrder order) {
  const auto c = checksum(kind, body);
  if (checksum_width(kind) == 1) return body + static_cast<char>(c);
  const char hi = static_cast<char>(c >> 8), lo = static_cast<char>(c & 0xFF);
  return order == ByteOrder::big ? body + hi + lo : body + lo + hi;
}

const std::string kBody("\x07\xFF\x38\x10\x27\x00\x00\x41\xAC\x00\x00",
                        11);  // 7, -20.0, 10000, 21.5

TEST(FrameParser, BinaryFieldsAfterEachChecksum) {
  for (const auto kind : {ChecksumKind::sum8, ChecksumKind::xor8, ChecksumKind::crc16_modbus,
                          ChecksumKind::crc16_ccitt}) {
    const auto s = binary_settings(kind);
    const FrameParser p(s);
    const auto frame = with_checksum(kBody, kind, s.checksum_order);
    const auto r = p.parse(frame);
    ASSERT_TRUE(r.frame) << r.error;
    EXPECT_EQ(r.frame->address, "7");
    EXPECT_EQ(r.frame->values,
              (Values{{"temp", -20.0}, {"count", std::int64_t{10000}}, {"level", 21.5}}));
    auto corrupt = frame;
    corrupt[4] ^= 0x01;
    const auto bad = p.parse(corrupt);
    EXPECT_EQ(bad.fault, ParseResult::Fault::checksum) << static_cast<int>(kind);
  }
}

TEST(FrameParser, BinaryChecksumMessageAndShortFrames) {
  const FrameParser p(binary_settings(ChecksumKind::crc16_modbus));
  auto frame = with_checksum(kBody, ChecksumKind::crc16_modbus, ByteOrder::little);
  const auto good = checksum(ChecksumKind::crc16_modbus, kBody);
  frame[frame.size() - 1] = static_cast<char>(frame.back() ^ 0xFF);
  char want[64];
  std::snprintf(want, sizeof want, "checksum 0x%04X, computed 0x%04X", good ^ 0xFF00, good);
  EXPECT_EQ(p.parse(frame).error, want);
  EXPECT_EQ(p.parse("\x01").error, "frame of 1 bytes is too short for its checksum");
  const auto short_frame =
      with_checksum(kBody.substr(0, 5), ChecksumKind::crc16_modbus, ByteOrder::little);
  EXPECT_EQ(p.parse(short_frame).error, "frame of 7 bytes has no field 'count' at offset 3");
}

TEST(FrameParser, AddressFieldBecomesTheDeviceKey) {
  auto s = regex_settings();
  s.pattern = R"(^#(?<id>\w+) (?<weight>[0-9.]+)$)";
  s.address = "id";
  const FrameParser p(s);
  const auto r = p.parse("#A7 1.5");
  ASSERT_TRUE(r.frame) << r.error;
  EXPECT_EQ(r.frame->address, "A7");
  EXPECT_EQ(r.frame->values, (Values{{"weight", 1.5}}));
}

TEST(ConvertText, NumbersAsDevicesPrintThem) {
  EXPECT_EQ(convert_text("+0012.34", FieldType::float64), Value(12.34));
  EXPECT_EQ(convert_text(" -7 ", FieldType::int64), Value(std::int64_t{-7}));
  EXPECT_EQ(convert_text("+5", FieldType::uint64), Value(std::uint64_t{5}));
  EXPECT_FALSE(convert_text("++5", FieldType::int64));
  EXPECT_FALSE(convert_text("nan", FieldType::float64));
  EXPECT_FALSE(convert_text("", FieldType::float64));
  EXPECT_EQ(convert_text("on", FieldType::boolean), Value(true));
}

}  // namespace
}  // namespace fieldlink::serial
