#include "config/value_types.hpp"

#include <array>
#include <charconv>
#include <limits>

namespace fieldlink::config {
namespace {

struct Unit {
  std::string_view suffix;
  std::uint64_t factor;
};

constexpr std::array<Unit, 5> kDurationUnits{
    {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}}};
constexpr std::array<Unit, 5> kSizeUnits{
    {{"B", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40}}};
constexpr std::array<Unit, 4> kRatePeriods{
    {{"s", 1000}, {"min", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}}};

// Splits "250ms" into 250 and "ms". Only plain decimal integers: a fraction or sign in a
// duration is more often a typo than an intent, and the error says so.
bool split_number(std::string_view text, std::uint64_t& number, std::string_view& suffix) {
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, number);
  if (ec != std::errc{} || ptr == text.data()) return false;
  suffix = std::string_view(ptr, static_cast<size_t>(end - ptr));
  return true;
}

template <size_t N>
const Unit* find_unit(const std::array<Unit, N>& units, std::string_view suffix) {
  for (const auto& u : units) {
    if (u.suffix == suffix) return &u;
  }
  return nullptr;
}

bool multiply(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  if (b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b) return false;
  out = a * b;
  return true;
}

template <size_t N>
std::string format_in(std::uint64_t value, const std::array<Unit, N>& units) {
  for (auto it = units.rbegin(); it != units.rend(); ++it) {
    if (value != 0 && value % it->factor == 0) {
      return std::to_string(value / it->factor) + std::string(it->suffix);
    }
  }
  return std::to_string(value) + std::string(units.front().suffix);
}

bool is_loopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

}  // namespace

Parsed<Duration> parse_duration(std::string_view text) {
  constexpr std::string_view kExpect = "expected a duration like 250ms, 5s, 2m, 2h or 7d";
  std::uint64_t n = 0;
  std::string_view suffix;
  if (!split_number(text, n, suffix)) {
    return Parsed<Duration>::fail(std::string(kExpect) + ", got '" + std::string(text) + "'");
  }
  if (suffix.empty()) {
    return Parsed<Duration>::fail("'" + std::string(text) + "' has no unit; write it as e.g. " +
                                  std::string(text) + "s");
  }
  const auto* unit = find_unit(kDurationUnits, suffix);
  if (unit == nullptr) {
    return Parsed<Duration>::fail("unknown duration unit '" + std::string(suffix) + "' in '" +
                                  std::string(text) + "'; use ms, s, m, h or d");
  }
  std::uint64_t ms = 0;
  if (!multiply(n, unit->factor, ms) ||
      ms > static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max())) {
    return Parsed<Duration>::fail("duration '" + std::string(text) + "' is too large");
  }
  return Parsed<Duration>::ok(Duration(static_cast<Duration::rep>(ms)));
}

Parsed<ByteSize> parse_size(std::string_view text) {
  std::uint64_t n = 0;
  std::string_view suffix;
  if (!split_number(text, n, suffix)) {
    return Parsed<ByteSize>::fail("expected a size like 512KiB, 256MiB or 1GiB, got '" +
                                  std::string(text) + "'");
  }
  if (suffix.empty()) {
    return Parsed<ByteSize>::fail("'" + std::string(text) + "' has no unit; write it as e.g. " +
                                  std::string(text) + "B");
  }
  const auto* unit = find_unit(kSizeUnits, suffix);
  if (unit == nullptr) {
    // "MB" is ambiguous (10^6 or 2^20); the binary units say exactly what they mean.
    return Parsed<ByteSize>::fail("unknown size unit '" + std::string(suffix) + "' in '" +
                                  std::string(text) + "'; use B, KiB, MiB, GiB or TiB");
  }
  std::uint64_t bytes = 0;
  if (!multiply(n, unit->factor, bytes)) {
    return Parsed<ByteSize>::fail("size '" + std::string(text) + "' is too large");
  }
  return Parsed<ByteSize>::ok(ByteSize{bytes});
}

Parsed<Rate> parse_rate(std::string_view text) {
  constexpr std::string_view kExpect = "expected a rate like 10/s or 600/min";
  const auto slash = text.find('/');
  std::uint64_t n = 0;
  std::string_view rest;
  if (slash == std::string_view::npos || !split_number(text.substr(0, slash), n, rest) ||
      !rest.empty()) {
    return Parsed<Rate>::fail(std::string(kExpect) + ", got '" + std::string(text) + "'");
  }
  const auto period = text.substr(slash + 1);
  const auto* unit = find_unit(kRatePeriods, period);
  if (unit == nullptr) {
    return Parsed<Rate>::fail("unknown rate period '" + std::string(period) + "' in '" +
                              std::string(text) + "'; use s, min, h or d");
  }
  if (n > std::numeric_limits<std::uint32_t>::max()) {
    return Parsed<Rate>::fail("rate '" + std::string(text) + "' is too large");
  }
  return Parsed<Rate>::ok(Rate{n, Duration(static_cast<Duration::rep>(unit->factor))});
}

Parsed<ListenAddress> parse_listen(std::string_view text) {
  if (text.starts_with("unix:")) {
    const auto path = text.substr(5);
    if (!path.starts_with('/')) {
      return Parsed<ListenAddress>::fail("a unix socket path must be absolute, got '" +
                                         std::string(path) + "'");
    }
    return Parsed<ListenAddress>::ok({ListenAddress::Unix{std::string(path)}});
  }
  std::string_view host;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) {
      return Parsed<ListenAddress>::fail("expected [ipv6]:port, got '" + std::string(text) + "'");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return Parsed<ListenAddress>::fail(
          "expected host:port (e.g. 127.0.0.1:8086) or unix:/path, got '" + std::string(text) +
          "'");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  std::uint64_t port = 0;
  std::string_view junk;
  // Port 0 takes any free port (tests, side-by-side instances); the log and STATUS= say which.
  if (!split_number(port_text, port, junk) || !junk.empty() || port > 65535) {
    return Parsed<ListenAddress>::fail("port must be a number from 0 to 65535, got '" +
                                       std::string(port_text) + "'");
  }
  if (!is_loopback(host)) {
    return Parsed<ListenAddress>::fail(
        "'" + std::string(host) +
        "' is not a loopback address; the status endpoint has no authentication, so it listens "
        "only on 127.0.0.1, ::1, localhost or a unix socket");
  }
  return Parsed<ListenAddress>::ok(
      {ListenAddress::Tcp{std::string(host), static_cast<std::uint16_t>(port)}});
}

std::string format_duration(Duration d) {
  return format_in(static_cast<std::uint64_t>(d.count()), kDurationUnits);
}

std::string format_size(ByteSize s) {
  return format_in(s.bytes, kSizeUnits);
}

std::string format_rate(const Rate& r) {
  for (const auto& u : kRatePeriods) {
    if (static_cast<std::uint64_t>(r.per.count()) == u.factor) {
      return std::to_string(r.count) + "/" + std::string(u.suffix);
    }
  }
  return std::to_string(r.count) + "/" + format_duration(r.per);
}

std::string format_listen(const ListenAddress& a) {
  if (const auto* u = std::get_if<ListenAddress::Unix>(&a.where)) return "unix:" + u->path;
  const auto& t = std::get<ListenAddress::Tcp>(a.where);
  const bool v6 = t.host.find(':') != std::string::npos;
  return (v6 ? "[" + t.host + "]" : t.host) + ":" + std::to_string(t.port);
}

}  // namespace fieldlink::config
