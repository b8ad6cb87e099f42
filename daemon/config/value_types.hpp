#pragma once
// The value types operators write: durations (`250ms`, `5s`, `2h`, `7d`), sizes (`64KiB`,
// `256MiB`), rates (`10/s`, `600/min`) and listen addresses. Each parser accepts exactly the
// documented forms and says what it expected otherwise; nothing is guessed or silently rounded.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace fieldlink::config {

// Either a value or the reason the text is not one ("expected a duration like 5s or 250ms").
template <class T>
struct Parsed {
  std::optional<T> value;
  std::string error;

  static Parsed ok(T v) { return {std::move(v), {}}; }
  static Parsed fail(std::string why) { return {std::nullopt, std::move(why)}; }
};

using Duration = std::chrono::milliseconds;

struct ByteSize {
  std::uint64_t bytes = 0;
  friend auto operator<=>(const ByteSize&, const ByteSize&) = default;
};

// Events per period, kept as written (600/min is not rounded to 10/s). Zero means "no limit"
// where a key says so.
struct Rate {
  std::uint64_t count = 0;
  Duration per{std::chrono::seconds(1)};

  double per_second() const {
    return static_cast<double>(count) * 1000.0 / static_cast<double>(per.count());
  }
  friend bool operator==(const Rate& a, const Rate& b) {
    return a.count * b.per.count() == b.count * a.per.count();
  }
  friend auto operator<=>(const Rate& a, const Rate& b) {
    return a.count * b.per.count() <=> b.count * a.per.count();
  }
};

struct TcpListen {
  std::string host;
  std::uint16_t port = 0;
  friend bool operator==(const TcpListen&, const TcpListen&) = default;
};
struct UnixListen {
  std::string path;
  friend bool operator==(const UnixListen&, const UnixListen&) = default;
};

struct ListenAddress {
  using Tcp = TcpListen;
  using Unix = UnixListen;
  std::variant<Tcp, Unix> where;

  bool is_unix() const { return std::holds_alternative<Unix>(where); }
  friend bool operator==(const ListenAddress&, const ListenAddress&) = default;
};

Parsed<Duration> parse_duration(std::string_view text);
Parsed<ByteSize> parse_size(std::string_view text);
Parsed<Rate> parse_rate(std::string_view text);
// `host:port`, `[v6]:port` or `unix:/path`; port 0 means any free port. Only loopback hosts are
// accepted: the status endpoint is unauthenticated, so it must not be reachable from the plant
// network by default.
Parsed<ListenAddress> parse_listen(std::string_view text);

// The shortest exact form in the operators' own notation: 90000ms → "90s", 7d stays "7d".
std::string format_duration(Duration d);
std::string format_size(ByteSize s);
std::string format_rate(const Rate& r);
std::string format_listen(const ListenAddress& a);

}  // namespace fieldlink::config
