// Payload formats of the MQTT adapter: json (pass-through, field list, device field), value, raw.
#include <gtest/gtest.h>

#include "adapters/mqtt/payload_decoder.hpp"

namespace fieldlink::mqtt {
namespace {

using Values = std::vector<std::pair<std::string, Value>>;

TopicRoute route(PayloadFormat format) {
  TopicRoute r;
  r.format = format;
  return r;
}

TEST(JsonPayload, PassesThroughTypedValues) {
  const auto d = decode_payload(
      route(PayloadFormat::json),
      R"({"t": 21.5, "n": 7, "big": 18446744073709551615, "on": true, "s": "ok", "x": null})");
  ASSERT_TRUE(d.ok()) << d.error;
  // nlohmann keeps object keys sorted.
  EXPECT_EQ(d.values, (Values{{"big", std::uint64_t{18446744073709551615u}},
                              {"n", std::int64_t{7}},
                              {"on", true},
                              {"s", std::string("ok")},
                              {"t", 21.5}}));
}

TEST(JsonPayload, FlattensNestedObjectsAndKeepsArraysAsText) {
  const auto d = decode_payload(route(PayloadFormat::json),
                                R"({"a": {"b": 1, "c": {"d": false}}, "l": [1,2]})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.values,
            (Values{{"a.b", std::int64_t{1}}, {"a.c.d", false}, {"l", std::string("[1,2]")}}));
}

TEST(JsonPayload, FieldListMapsAndSkipsAbsentFields) {
  auto r = route(PayloadFormat::json);
  r.fields = {{"temperature", "data.t"}, {"humidity", "data.h"}, {"id", "id"}};
  const auto d = decode_payload(r, R"({"data": {"t": 20}, "id": "x", "other": 1})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.values, (Values{{"temperature", std::int64_t{20}}, {"id", std::string("x")}}));
  const auto none = decode_payload(r, R"({"other": 1})");
  EXPECT_EQ(none.error, "none of the mapped fields is present");
}

TEST(JsonPayload, DeviceFieldIsTakenOutOfTheValues) {
  auto r = route(PayloadFormat::json);
  r.device_field = "meta.dev";
  const auto d = decode_payload(r, R"({"meta": {"dev": "s7"}, "t": 1})");
  ASSERT_TRUE(d.ok()) << d.error;
  EXPECT_EQ(d.device_key, "s7");
  EXPECT_EQ(d.values, (Values{{"t", std::int64_t{1}}}));
  EXPECT_EQ(decode_payload(r, R"({"meta": {"dev": 12}, "t": 1})").device_key, "12");
  EXPECT_EQ(decode_payload(r, R"({"t": 1})").error, "no device field 'meta.dev'");
  EXPECT_EQ(decode_payload(r, R"({"meta": {"dev": "a/b"}, "t": 1})").error,
            "device field 'meta.dev' is not a valid device key");
}

TEST(JsonPayload, InvalidPayloadsSayWhy) {
  const auto r = route(PayloadFormat::json);
  EXPECT_EQ(decode_payload(r, "{\"t\": ").error, "not valid JSON");
  EXPECT_EQ(decode_payload(r, "[1,2]").error, "expected a JSON object, got array");
  EXPECT_EQ(decode_payload(r, "42").error, "expected a JSON object, got number");
  EXPECT_EQ(decode_payload(r, "{}").error, "the JSON object has no values");
  EXPECT_EQ(decode_payload(r, "").error, "not valid JSON");
  EXPECT_EQ(decode_payload(r, "{\"s\": \"\xff\"}").error, "not valid JSON");  // not UTF-8
}

TEST(ValuePayload, NumbersFlagsAndText) {
  auto r = route(PayloadFormat::value);
  EXPECT_EQ(decode_payload(r, "42").values, (Values{{"value", std::int64_t{42}}}));
  EXPECT_EQ(decode_payload(r, " -3.25\n").values, (Values{{"value", -3.25}}));
  EXPECT_EQ(decode_payload(r, "1e3").values, (Values{{"value", 1000.0}}));
  EXPECT_EQ(decode_payload(r, "true").values, (Values{{"value", true}}));
  EXPECT_EQ(decode_payload(r, "OPEN").values, (Values{{"value", std::string("OPEN")}}));
  EXPECT_EQ(decode_payload(r, "nan").values, (Values{{"value", std::string("nan")}}));
  r.value_name = "level";
  EXPECT_EQ(decode_payload(r, "7").values, (Values{{"level", std::int64_t{7}}}));
  EXPECT_EQ(decode_payload(r, "  ").error, "empty payload");
  EXPECT_EQ(decode_payload(r, "\xc3\x28").error,
            "not UTF-8 text (use format: raw for binary payloads)");
}

TEST(RawPayload, Base64) {
  auto r = route(PayloadFormat::raw);
  EXPECT_EQ(decode_payload(r, std::string_view("\x00\xff\x10", 3)).values,
            (Values{{"raw", std::string("AP8Q")}}));
  EXPECT_EQ(decode_payload(r, "").values, (Values{{"raw", std::string("")}}));
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
}

TEST(Utf8, RejectsOverlongAndSurrogates) {
  EXPECT_TRUE(valid_utf8("°C \xe2\x82\xac"));
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // U+D800
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(valid_utf8("\xe2\x82"));          // cut short
}

}  // namespace
}  // namespace fieldlink::mqtt
