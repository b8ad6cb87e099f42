// utc_iso8601 against the C library's own calendar (gmtime_r + strftime) over 1970–2199, in
// steps that land on every month, leap days and all hours, with the milliseconds varying.
#include <gtest/gtest.h>
#include <cstdio>
#include <ctime>

#include "core/utc_time.hpp"

namespace fieldlink {
namespace {

std::string reference(long long ms) {
  const auto secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", date, static_cast<int>(ms % 1000));
  return out;
}

TEST(UtcIso8601, MatchesTheCLibraryCalendar) {
  using namespace std::chrono;
  constexpr long long kEnd = 7'258'118'400'000LL;  // 2200-01-01
  // 7 h 13 min 17.321 s: coprime enough with days and months to visit every field's values.
  constexpr long long kStep = ((7 * 60 + 13) * 60 + 17) * 1000LL + 321;
  int checked = 0;
  for (long long ms = 0; ms < kEnd; ms += kStep, ++checked) {
    const system_clock::time_point t{milliseconds(ms)};
    ASSERT_EQ(utc_iso8601(t), reference(ms)) << ms;
  }
  EXPECT_GT(checked, 200000);
}

TEST(UtcIso8601, KnownInstants) {
  using namespace std::chrono;
  EXPECT_EQ(utc_iso8601(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(utc_iso8601(system_clock::time_point{milliseconds(1'709'164'799'999LL)}),
            "2024-02-28T23:59:59.999Z");
  EXPECT_EQ(utc_iso8601(system_clock::time_point{milliseconds(1'709'164'800'000LL)}),
            "2024-02-29T00:00:00.000Z");
  // Sub-millisecond parts are cut, not rounded.
  EXPECT_EQ(utc_iso8601(system_clock::time_point{microseconds(1'999'999)}),
            "1970-01-01T00:00:01.999Z");
}

}  // namespace
}  // namespace fieldlink
