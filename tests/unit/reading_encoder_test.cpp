#include "router/reading_encoder.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "core/utc_time.hpp"

namespace fieldlink {
namespace {

using nlohmann::json;
using namespace std::chrono;

// The encoder as it was before it wrote the text itself: an nlohmann tree, dumped. Its bytes
// are what the hub received until then, so the direct writer is held to them.
std::string reference_encoding(const Reading& reading) {
  json values = json::object();
  for (const auto& [name, value] : reading.values) {
    values[name] = std::visit(
        [](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, double>) {
            return std::isfinite(v) ? json(v) : json(nullptr);
          } else {
            return json(v);
          }
        },
        value);
  }
  const char* quality = reading.quality == Quality::good        ? "good"
                        : reading.quality == Quality::uncertain ? "uncertain"
                                                                : "bad";
  json doc{{"source", reading.source.str()},
           {"ts", utc_iso8601(reading.sampled_at)},
           {"quality", quality},
           {"values", std::move(values)}};
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

Reading reading_of(std::vector<std::pair<std::string, Value>> values,
                   std::string source = "modbus://bus/7") {
  return Reading{*SourceAddress::parse(source),
                 system_clock::time_point(milliseconds(1'764'158'400'123)), std::move(values)};
}

TEST(ReadingEncoder, WritesTheDocumentAsBefore) {
  const auto r = reading_of({{"temp", 21.5}, {"count", std::int64_t{-42}}, {"on", true}});
  EXPECT_EQ(encode_reading(r),
            R"({"quality":"good","source":"modbus://bus/7","ts":"2025-11-26T12:00:00.123Z",)"
            R"("values":{"count":-42,"on":true,"temp":21.5}})");
  EXPECT_EQ(encode_reading(r), reference_encoding(r));
}

TEST(ReadingEncoder, EveryValueTypeMatchesTheReference) {
  auto r = reading_of({{"b0", false},
                       {"b1", true},
                       {"i", std::numeric_limits<std::int64_t>::min()},
                       {"i2", std::numeric_limits<std::int64_t>::max()},
                       {"u", std::numeric_limits<std::uint64_t>::max()},
                       {"u0", std::uint64_t{0}},
                       {"s", std::string("plain")},
                       {"empty", std::string()}});
  for (auto q : {Quality::good, Quality::uncertain, Quality::bad}) {
    r.quality = q;
    EXPECT_EQ(encode_reading(r), reference_encoding(r));
  }
  EXPECT_EQ(encode_reading(reading_of({})), reference_encoding(reading_of({})));
}

TEST(ReadingEncoder, NaNAndInfinityAreNull) {
  const auto r = reading_of({{"nan", std::numeric_limits<double>::quiet_NaN()},
                             {"inf", std::numeric_limits<double>::infinity()},
                             {"minf", -std::numeric_limits<double>::infinity()}});
  EXPECT_EQ(encode_reading(r), reference_encoding(r));
  EXPECT_TRUE(json::parse(encode_reading(r))["values"]["nan"].is_null());
}

TEST(ReadingEncoder, DoublesInEveryLayoutMatchTheReference) {
  for (const double d : {0.0,
                         -0.0,
                         1.0,
                         -1.0,
                         0.1,
                         0.5,
                         21.5,
                         100.0,
                         123456789012345.0,
                         1234567890123456.0,
                         1e15,
                         1e16,
                         1e17,
                         1e21,
                         1e-3,
                         1e-4,
                         1e-5,
                         0.00012345,
                         1.5e-7,
                         2.5e300,
                         1e308,
                         std::numeric_limits<double>::max(),
                         std::numeric_limits<double>::min(),
                         std::numeric_limits<double>::denorm_min(),
                         3.141592653589793,
                         1.0 / 3,
                         2.0 / 3,
                         -273.15,
                         65535.0,
                         4294967296.0,
                         9007199254740993.0}) {
    const auto r = reading_of({{"v", d}});
    EXPECT_EQ(encode_reading(r), reference_encoding(r)) << d;
  }
}

TEST(ReadingEncoder, RandomDoublesReadBackAsTheSameValue) {
  std::mt19937_64 rng(8);
  std::uniform_int_distribution<std::uint64_t> bits;
  int same_text = 0;
  constexpr int kCount = 20'000;
  for (int i = 0; i < kCount; ++i) {
    double d = 0;
    const auto b = bits(rng);
    std::memcpy(&d, &b, sizeof d);
    if (!std::isfinite(d)) continue;
    const auto r = reading_of({{"v", d}});
    const auto ours = encode_reading(r);
    const auto theirs = reference_encoding(r);
    ASSERT_EQ(json::parse(ours)["values"]["v"].get<double>(), d) << ours;
    if (ours == theirs) ++same_text;
  }
  // Both print the shortest digits that read back exactly; nlohmann's Grisu2 misses the
  // shortest for a rare value, which then differs in its last digits only.
  EXPECT_GT(same_text, kCount * 9 / 10);
}

TEST(ReadingEncoder, EscapesAsTheReference) {
  std::string controls;
  for (char c = 1; c < 0x20; ++c)
    controls += c;
  controls += "\x7f";
  const auto r = reading_of({{"quote\"back\\slash", std::string("a\"b\\c/d")},
                             {"controls", controls},
                             {std::string("nul\0in", 6), std::string("x\0y", 3)},
                             {"tab\tname", std::string("line\nbreak\r\n")}});
  EXPECT_EQ(encode_reading(r), reference_encoding(r));
  const auto back = json::parse(encode_reading(r));
  EXPECT_EQ(back["values"]["controls"], controls);
  EXPECT_EQ(back["values"]["quote\"back\\slash"], "a\"b\\c/d");
}

TEST(ReadingEncoder, UnicodeStaysRawAndInvalidUtf8IsReplaced) {
  const auto r = reading_of({{"Temperatur °C", std::string("Ölpumpe läuft ✓ 🚀")},
                             {"bad", std::string("ok\xff\xfe end")},
                             {"cut", std::string("trunc\xe2\x82")},
                             {"overlong", std::string("\xc0\xaf")},
                             {"\xe2\x82 key", std::string("v")}});
  const auto ours = encode_reading(r);
  EXPECT_EQ(ours, reference_encoding(r));
  EXPECT_NE(ours.find("Ölpumpe läuft ✓ 🚀"), std::string::npos);
  const auto back = json::parse(ours);
  EXPECT_EQ(back["values"]["bad"], "ok\xef\xbf\xbd\xef\xbf\xbd end");
}

TEST(ReadingEncoder, NamesAreOrderedAndARepeatedNameKeepsItsLastValue) {
  const auto r = reading_of({{"zeta", std::int64_t{1}},
                             {"alpha", std::int64_t{2}},
                             {"Zeta", std::int64_t{3}},
                             {"alpha", std::int64_t{4}},
                             {"mid", std::int64_t{5}},
                             {"alpha", std::int64_t{6}}});
  const auto ours = encode_reading(r);
  EXPECT_EQ(ours, reference_encoding(r));
  EXPECT_NE(ours.find(R"("values":{"Zeta":3,"alpha":6,"mid":5,"zeta":1})"), std::string::npos);
}

TEST(ReadingEncoder, ManyValuesBeyondTheStackOrder) {
  std::vector<std::pair<std::string, Value>> values;
  for (int i = 199; i >= 0; --i)
    values.emplace_back("r" + std::to_string(i % 150), std::int64_t{i});
  const auto r = reading_of(std::move(values));
  EXPECT_EQ(encode_reading(r), reference_encoding(r));
  EXPECT_EQ(json::parse(encode_reading(r))["values"].size(), 150u);
}

}  // namespace
}  // namespace fieldlink
