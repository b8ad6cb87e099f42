// Topic filters with captures, and the templates of device keys and downlink topics.
#include <gtest/gtest.h>

#include "adapters/mqtt/topic_filter.hpp"
#include "adapters/mqtt/topic_template.hpp"

namespace fieldlink::mqtt {
namespace {

using Caps = std::vector<std::string_view>;

TopicFilter filter(std::string_view text) {
  auto f = TopicFilter::parse(text);
  EXPECT_TRUE(f) << text;
  return *f;
}

TEST(TopicFilter, PlusCapturesOneLevel) {
  const auto f = filter("plant/+/telemetry");
  EXPECT_EQ(f.match("plant/s1/telemetry"), Caps{"s1"});
  EXPECT_EQ(f.match("plant//telemetry"), Caps{""});  // empty level is a level in MQTT
  EXPECT_FALSE(f.match("plant/s1/telemetry/x"));
  EXPECT_FALSE(f.match("plant/s1"));
  EXPECT_FALSE(f.match("plant/s1/other"));
  EXPECT_FALSE(f.match("Plant/s1/telemetry"));  // case matters
}

TEST(TopicFilter, SeveralWildcardsCaptureInOrder) {
  const auto f = filter("site/+/line/+/#");
  EXPECT_EQ(f.match("site/a/line/7/temp/x"), (Caps{"a", "7", "temp/x"}));
  EXPECT_EQ(f.match("site/a/line/7"), (Caps{"a", "7", ""}));  // # matches the parent too
  EXPECT_EQ(f.wildcard_count(), 3u);
}

TEST(TopicFilter, HashAlone) {
  const auto f = filter("#");
  EXPECT_EQ(f.match("a/b"), Caps{"a/b"});
  EXPECT_FALSE(f.match("$SYS/broker/uptime"));
}

TEST(TopicFilter, DollarTopicsNeverMatchLeadingWildcards) {
  EXPECT_FALSE(filter("+/x").match("$iothub/x"));
  EXPECT_TRUE(filter("$iothub/+").match("$iothub/x"));
}

TEST(TopicFilter, LiteralFilterCapturesNothing) {
  EXPECT_EQ(filter("a/b").match("a/b"), Caps{});
  EXPECT_FALSE(filter("a/b").match("a/b/"));
}

TEST(TopicFilter, InvalidFiltersSayWhy) {
  std::string why;
  EXPECT_FALSE(TopicFilter::parse("a/b+/c", &why));
  EXPECT_EQ(why, "'+' must fill a whole topic level, as in a/+/b; got 'b+'");
  EXPECT_FALSE(TopicFilter::parse("a/#/c", &why));
  EXPECT_EQ(why, "'#' may only be the last topic level, as in a/#");
  EXPECT_FALSE(TopicFilter::parse("a#", &why));
  EXPECT_FALSE(TopicFilter::parse("", &why));
  EXPECT_EQ(why, "a topic filter must not be empty");
}

TEST(TopicTemplate, ExpandsNamedPlaceholders) {
  std::string why;
  const auto t =
      TopicTemplate::parse("plant/{device}/methods/{method}", {"device", "method"}, 0, &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->expand([](std::string_view n) {
    return n == "device" ? std::string_view("s1") : std::string_view("reset");
  }),
            "plant/s1/methods/reset");
  EXPECT_EQ(t->as_filter(), "plant/+/methods/+");
  EXPECT_EQ(t->whole_level("device"), 1u);
  EXPECT_EQ(t->whole_level("method"), 3u);
  EXPECT_TRUE(t->uses("method"));
}

TEST(TopicTemplate, PartialLevelIsNotWhole) {
  const auto t = TopicTemplate::parse("plant/dev-{device}/c2d", {"device"}, 0, nullptr);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->whole_level("device"), std::nullopt);
  EXPECT_EQ(t->whole_level("method"), std::nullopt);
}

TEST(TopicTemplate, CaptureIndexes) {
  const auto t = TopicTemplate::parse("line{2}-{1}", {}, 2, nullptr);
  ASSERT_TRUE(t);
  const std::vector<std::string_view> caps{"a", "b"};
  EXPECT_EQ(t->expand([&](std::string_view n) { return caps[n == "1" ? 0 : 1]; }), "lineb-a");
}

TEST(TopicTemplate, UnknownPlaceholdersSayWhatIsAllowed) {
  std::string why;
  EXPECT_FALSE(TopicTemplate::parse("plant/{dev}/c2d", {"device"}, 0, &why));
  EXPECT_EQ(why, "unknown placeholder {dev}; this key may use {device}");
  EXPECT_FALSE(TopicTemplate::parse("{3}", {}, 2, &why));
  EXPECT_EQ(why, "unknown placeholder {3}; this key may use {1} … {2}");
  EXPECT_FALSE(TopicTemplate::parse("{1}", {}, 0, &why));
  EXPECT_EQ(why, "unknown placeholder {1}; this key may use none");
  EXPECT_FALSE(TopicTemplate::parse("a/{device", {"device"}, 0, &why));
  EXPECT_EQ(why, "unmatched '{' at offset 2");
  EXPECT_FALSE(TopicTemplate::parse("a/device}", {"device"}, 0, &why));
  EXPECT_EQ(why, "unmatched '}' at offset 8");
}

TEST(DeviceKey, Validity) {
  EXPECT_TRUE(valid_device_key("s1"));
  EXPECT_TRUE(valid_device_key("boiler-3.a_b"));
  EXPECT_FALSE(valid_device_key(""));
  EXPECT_FALSE(valid_device_key("a/b"));
  EXPECT_FALSE(valid_device_key("a+"));
  EXPECT_FALSE(valid_device_key("a b"));
  EXPECT_FALSE(valid_device_key(std::string(129, 'x')));
}

}  // namespace
}  // namespace fieldlink::mqtt
