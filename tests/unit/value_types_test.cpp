#include "config/value_types.hpp"

#include <gtest/gtest.h>

namespace fieldlink::config {
namespace {

using namespace std::chrono_literals;

TEST(Duration, AcceptsEveryDocumentedUnit) {
  EXPECT_EQ(parse_duration("250ms").value, Duration(250));
  EXPECT_EQ(parse_duration("5s").value, Duration(5s));
  EXPECT_EQ(parse_duration("2m").value, Duration(2min));
  EXPECT_EQ(parse_duration("2h").value, Duration(2h));
  EXPECT_EQ(parse_duration("7d").value, Duration(24h * 7));
  EXPECT_EQ(parse_duration("0s").value, Duration(0));
}

TEST(Duration, RejectsWhatIsNotExactlyADuration) {
  for (const char* bad : {"", "5", "s", "5 s", "-5s", "1.5s", "5sec", "5S", "5s ", " 5s", "5ss",
                          "99999999999999999999d", "9999999999999999d"}) {
    const auto p = parse_duration(bad);
    EXPECT_FALSE(p.value) << "'" << bad << "' parsed as " << p.value->count() << "ms";
    EXPECT_FALSE(p.error.empty()) << bad;
  }
}

TEST(Duration, ErrorsSayWhatWasExpected) {
  EXPECT_EQ(parse_duration("5").error, "'5' has no unit; write it as e.g. 5s");
  EXPECT_EQ(parse_duration("5sec").error,
            "unknown duration unit 'sec' in '5sec'; use ms, s, m, h or d");
  EXPECT_EQ(parse_duration("soon").error,
            "expected a duration like 250ms, 5s, 2m, 2h or 7d, got 'soon'");
}

TEST(Duration, FormatsInTheLargestExactUnit) {
  EXPECT_EQ(format_duration(Duration(90'000)), "90s");
  EXPECT_EQ(format_duration(Duration(24h * 7)), "7d");
  EXPECT_EQ(format_duration(Duration(250)), "250ms");
  EXPECT_EQ(format_duration(Duration(0)), "0ms");
}

TEST(Size, AcceptsBinaryUnits) {
  EXPECT_EQ(parse_size("64KiB").value->bytes, 64u * 1024);
  EXPECT_EQ(parse_size("256MiB").value->bytes, 256u * 1024 * 1024);
  EXPECT_EQ(parse_size("1GiB").value->bytes, 1ull << 30);
  EXPECT_EQ(parse_size("2TiB").value->bytes, 2ull << 40);
  EXPECT_EQ(parse_size("512B").value->bytes, 512u);
}

TEST(Size, RejectsAmbiguousAndMalformed) {
  for (const char* bad :
       {"", "64", "64MB", "64mb", "64 MiB", "-1MiB", "1.5GiB", "MiB", "99999999999TiB"}) {
    EXPECT_FALSE(parse_size(bad).value) << bad;
  }
  EXPECT_EQ(parse_size("64MB").error,
            "unknown size unit 'MB' in '64MB'; use B, KiB, MiB, GiB or TiB");
  EXPECT_EQ(format_size(ByteSize{256ull << 20}), "256MiB");
}

TEST(Rate, AcceptsPerSecondMinuteHourDay) {
  const auto r = parse_rate("10/s");
  ASSERT_TRUE(r.value);
  EXPECT_EQ(r.value->count, 10u);
  EXPECT_DOUBLE_EQ(r.value->per_second(), 10.0);
  EXPECT_DOUBLE_EQ(parse_rate("600/min").value->per_second(), 10.0);
  EXPECT_DOUBLE_EQ(parse_rate("3600/h").value->per_second(), 1.0);
  EXPECT_EQ(parse_rate("0/s").value->count, 0u);
  EXPECT_EQ(format_rate(*parse_rate("600/min").value), "600/min");
  EXPECT_TRUE(*parse_rate("600/min").value == *parse_rate("10/s").value);
}

TEST(Rate, RejectsMalformed) {
  for (const char* bad :
       {"", "10", "10/", "/s", "10/sec", "10 /s", "1.5/s", "-1/s", "10/s/s", "ten/s"}) {
    EXPECT_FALSE(parse_rate(bad).value) << bad;
  }
  EXPECT_EQ(parse_rate("10/sec").error,
            "unknown rate period 'sec' in '10/sec'; use s, min, h or d");
}

TEST(Listen, AcceptsLoopbackAndUnixSockets) {
  auto tcp = parse_listen("127.0.0.1:8086");
  ASSERT_TRUE(tcp.value);
  EXPECT_EQ(format_listen(*tcp.value), "127.0.0.1:8086");
  EXPECT_TRUE(parse_listen("[::1]:8086").value);
  EXPECT_TRUE(parse_listen("localhost:1").value);
  auto unix_socket = parse_listen("unix:/run/fieldlink/status.sock");
  ASSERT_TRUE(unix_socket.value);
  EXPECT_TRUE(unix_socket.value->is_unix());
}

TEST(Listen, RefusesNonLoopbackAndMalformed) {
  EXPECT_NE(parse_listen("0.0.0.0:8086").error.find("not a loopback address"), std::string::npos);
  EXPECT_NE(parse_listen("10.0.0.5:8086").error.find("not a loopback address"), std::string::npos);
  EXPECT_TRUE(parse_listen("127.0.0.1:0").value);  // any free port
  for (const char* bad : {"127.0.0.1", "127.0.0.1:-1", "127.0.0.1:65536", "127.0.0.1:http",
                          "unix:relative.sock", "::1:8086", "[::1]8086"}) {
    EXPECT_FALSE(parse_listen(bad).value) << bad;
  }
}

}  // namespace
}  // namespace fieldlink::config
