#include "core/utc_time.hpp"

namespace fieldlink {
namespace {

// Two per reading are written (the body's `ts` and the message's creation time), so the digits
// are placed by hand: snprintf and gmtime_r were ~1 % of the core loop in the flood.
void put_digits(char* at, int value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

std::string utc_iso8601(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day date{day};
  const hh_mm_ss time{ms - day};
  std::string out = "0000-00-00T00:00:00.000Z";
  put_digits(&out[0], static_cast<int>(date.year()), 4);
  put_digits(&out[5], static_cast<int>(static_cast<unsigned>(date.month())), 2);
  put_digits(&out[8], static_cast<int>(static_cast<unsigned>(date.day())), 2);
  put_digits(&out[11], static_cast<int>(time.hours().count()), 2);
  put_digits(&out[14], static_cast<int>(time.minutes().count()), 2);
  put_digits(&out[17], static_cast<int>(time.seconds().count()), 2);
  put_digits(&out[20], static_cast<int>(time.subseconds().count()), 3);
  return out;
}

}  // namespace fieldlink
