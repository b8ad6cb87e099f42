#include "config/schema.hpp"

#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <concepts>
#include <cstring>
#include <filesystem>
#include <utility>

namespace fieldlink::config {
namespace {

using namespace std::chrono_literals;

template <class T>
struct Range {
  std::optional<T> min;
  std::optional<T> max;
};

template <class E>
struct EnumName {
  std::string_view name;
  E value;
};

// How each value type is read and written back. One specialisation per type; the tables below
// pick them by the member's C++ type, so a key cannot be parsed as the wrong kind.
template <class T>
struct ValueTraits;

template <>
struct ValueTraits<std::string> {
  static std::string type_name() { return "string"; }
  static Parsed<std::string> parse(std::string_view text, const ParseContext&) {
    return Parsed<std::string>::ok(std::string(text));
  }
  static std::string format(const std::string& v) { return v.empty() ? "\"\"" : v; }
};

template <>
struct ValueTraits<std::int64_t> {
  static std::string type_name() { return "integer"; }
  static Parsed<std::int64_t> parse(std::string_view text, const ParseContext&) {
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr != text.data() + text.size()) {
      return Parsed<std::int64_t>::fail("expected a whole number, got '" + std::string(text) + "'");
    }
    return Parsed<std::int64_t>::ok(v);
  }
  static std::string format(std::int64_t v) { return std::to_string(v); }
};

template <>
struct ValueTraits<Duration> {
  static std::string type_name() { return "duration"; }
  static Parsed<Duration> parse(std::string_view text, const ParseContext&) {
    return parse_duration(text);
  }
  static std::string format(Duration v) { return format_duration(v); }
};

template <>
struct ValueTraits<ByteSize> {
  static std::string type_name() { return "size"; }
  static Parsed<ByteSize> parse(std::string_view text, const ParseContext&) {
    return parse_size(text);
  }
  static std::string format(ByteSize v) { return format_size(v); }
};

template <>
struct ValueTraits<Rate> {
  static std::string type_name() { return "rate"; }
  static Parsed<Rate> parse(std::string_view text, const ParseContext&) { return parse_rate(text); }
  static std::string format(const Rate& v) { return format_rate(v); }
};

template <>
struct ValueTraits<ListenAddress> {
  static std::string type_name() { return "listen address"; }
  static Parsed<ListenAddress> parse(std::string_view text, const ParseContext&) {
    return parse_listen(text);
  }
  static std::string format(const ListenAddress& v) { return format_listen(v); }
};

std::string resolve(std::string_view text, const ParseContext& ctx) {
  std::filesystem::path p{std::string(text)};
  if (p.is_relative() && !ctx.base_dir.empty()) p = std::filesystem::path(ctx.base_dir) / p;
  return p.lexically_normal().string();
}

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

template <>
struct ValueTraits<FilePath> {
  static std::string type_name() { return "path"; }
  static Parsed<FilePath> parse(std::string_view text, const ParseContext& ctx) {
    if (text.empty()) return Parsed<FilePath>::ok({});
    return Parsed<FilePath>::ok({resolve(text, ctx)});
  }
  static std::string format(const FilePath& v) { return v.path.empty() ? "\"\"" : v.path; }
};

// Key files are checked where they are named, so a wrong mode is reported with the line that
// names the file rather than as a connect failure hours later.
template <>
struct ValueTraits<SecretFile> {
  static std::string type_name() { return "key file (mode 0600 or stricter)"; }
  static Parsed<SecretFile> parse(std::string_view text, const ParseContext& ctx) {
    if (text.empty()) return Parsed<SecretFile>::ok({});
    auto path = resolve(text, ctx);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      return Parsed<SecretFile>::fail("cannot use key file " + path + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
      return Parsed<SecretFile>::fail("key file " + path + " is not a regular file");
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
      return Parsed<SecretFile>::fail("key file " + path + " has mode " + mode_text(st.st_mode) +
                                      ", which lets group or others read it; run: chmod 600 " +
                                      path);
    }
    return Parsed<SecretFile>::ok({std::move(path)});
  }
  static std::string format(const SecretFile& v) { return v.path.empty() ? "\"\"" : v.path; }
};

template <class E, size_t N>
struct EnumTraits {
  static Parsed<E> parse_in(const std::array<EnumName<E>, N>& names, std::string_view text) {
    for (const auto& n : names) {
      if (n.name == text) return Parsed<E>::ok(n.value);
    }
    return Parsed<E>::fail("expected " + list(names) + ", got '" + std::string(text) + "'");
  }
  static std::string list(const std::array<EnumName<E>, N>& names) {
    std::string out = "one of: ";
    for (size_t i = 0; i < N; ++i)
      out += (i ? ", " : "") + std::string(names[i].name);
    return out;
  }
  static std::string format_in(const std::array<EnumName<E>, N>& names, E v) {
    for (const auto& n : names) {
      if (n.value == v) return std::string(n.name);
    }
    return "?";
  }
};

#define FIELDLINK_ENUM_TRAITS(E, ...)                                     \
  template <>                                                             \
  struct ValueTraits<E> {                                                 \
    static constexpr std::array kNames{__VA_ARGS__};                      \
    using Base = EnumTraits<E, kNames.size()>;                            \
    static std::string type_name() { return Base::list(kNames); }         \
    static Parsed<E> parse(std::string_view t, const ParseContext&) {     \
      return Base::parse_in(kNames, t);                                   \
    }                                                                     \
    static std::string format(E v) { return Base::format_in(kNames, v); } \
  };

FIELDLINK_ENUM_TRAITS(LogLevel, EnumName<LogLevel>{"error", LogLevel::error},
                      EnumName<LogLevel>{"warning", LogLevel::warning},
                      EnumName<LogLevel>{"notice", LogLevel::notice},
                      EnumName<LogLevel>{"info", LogLevel::info},
                      EnumName<LogLevel>{"debug", LogLevel::debug})
FIELDLINK_ENUM_TRAITS(HubMode, EnumName<HubMode>{"per-device", HubMode::per_device},
                      EnumName<HubMode>{"gateway", HubMode::gateway})
FIELDLINK_ENUM_TRAITS(OnFull, EnumName<OnFull>{"drop-oldest", OnFull::drop_oldest},
                      EnumName<OnFull>{"reject-new", OnFull::reject_new})
FIELDLINK_ENUM_TRAITS(SyncMode, EnumName<SyncMode>{"normal", SyncMode::normal},
                      EnumName<SyncMode>{"full", SyncMode::full})
FIELDLINK_ENUM_TRAITS(UnknownSources, EnumName<UnknownSources>{"reject", UnknownSources::reject},
                      EnumName<UnknownSources>{"gateway", UnknownSources::gateway})
#undef FIELDLINK_ENUM_TRAITS

template <class T>
std::string range_text(const Range<T>& r) {
  using Tr = ValueTraits<T>;
  if constexpr (std::totally_ordered<T>) {
    if (r.min && r.max) return Tr::format(*r.min) + " .. " + Tr::format(*r.max);
    if (r.min) return "at least " + Tr::format(*r.min);
    if (r.max) return "at most " + Tr::format(*r.max);
  }
  return {};
}

template <class T>
std::string check_range(const T& v, const Range<T>& r) {
  using Tr = ValueTraits<T>;
  if constexpr (std::totally_ordered<T>) {
    const bool low = r.min && v < *r.min;
    const bool high = r.max && *r.max < v;
    if (low || high) {
      if (r.min && r.max) {
        return "must be between " + Tr::format(*r.min) + " and " + Tr::format(*r.max) + ", got " +
               Tr::format(v);
      }
      return low ? "must be at least " + Tr::format(*r.min) + ", got " + Tr::format(v)
                 : "must be at most " + Tr::format(*r.max) + ", got " + Tr::format(v);
    }
  }
  return {};
}

// One table row. `get` reaches the member inside the root the table fills.
template <class Root, class T, class Get>
Field<Root> row(std::string key, Get get, std::optional<std::string> def, std::string description,
                Range<T> range = {}) {
  Field<Root> f;
  f.key = std::move(key);
  f.type = ValueTraits<T>::type_name();
  f.default_text = std::move(def);
  f.range = range_text(range);
  f.description = std::move(description);
  f.assign = [get, range](std::string_view text, const ParseContext& ctx, Root& root) {
    auto parsed = ValueTraits<T>::parse(text, ctx);
    if (!parsed.value) return parsed.error;
    if (auto why = check_range(*parsed.value, range); !why.empty()) return why;
    get(root) = std::move(*parsed.value);
    return std::string{};
  };
  return f;
}

// A key of one of the top-level sections, e.g. key(&Config::hub, &HubConfig::port, ...).
template <class S, class T>
Field<Config> key(std::string path, S Config::*section, T S::*member,
                  std::optional<std::string> def, std::string description, Range<T> range = {}) {
  return row<Config, T>(
      std::move(path), [section, member](Config& c) -> T& { return (c.*section).*member; },
      std::move(def), std::move(description), range);
}

template <class Root, class T>
Field<Root> key(std::string path, T Root::*member, std::optional<std::string> def,
                std::string description) {
  return row<Root, T>(
      std::move(path), [member](Root& r) -> T& { return r.*member; }, std::move(def),
      std::move(description));
}

const Rate kNoLimit{0, 1s};

}  // namespace

const std::vector<Field<Config>>& config_fields() {
  using C = Config;
  static const std::vector<Field<Config>> fields{
      key("gateway.name", &C::gateway, &GatewayConfig::name, "fieldlink",
          "Shown in logs, status and the gateway identity's telemetry."),
      key("gateway.state_dir", &C::gateway, &GatewayConfig::state_dir, "/var/lib/fieldlink",
          "Folder of the journal (journal.db) and other state."),
      key("gateway.identity", &C::gateway, &GatewayConfig::identity, "",
          "device_id of the gateway's own identity (built-in methods, gateway mode)."),

      key("log.level", &C::log, &LogConfig::level, "info", "Lowest level written."),
      key("log.rate_limit", &C::log, &LogConfig::rate_limit, "10/min",
          "Records per source and event kind; the rest are counted and reported as suppressed.",
          Range<Rate>{Rate{1, 1h}, {}}),

      key("hub.host", &C::hub, &HubConfig::host, "",
          "IoT Hub host name; used in SAS tokens and the MQTT user name. Required once any "
          "identity is bound."),
      key("hub.gateway_host", &C::hub, &HubConfig::gateway_host, "",
          "Connect here instead of hub.host (an IoT Edge edgeHub); SAS still names hub.host."),
      key("hub.port", &C::hub, &HubConfig::port, "8883", "MQTT over TLS port.",
          Range<std::int64_t>{1, 65535}),
      key("hub.ca_file", &C::hub, &HubConfig::ca_file, "/etc/ssl/certs/ca-certificates.crt",
          "CA bundle that the hub's (or edgeHub's) certificate must chain to."),
      key("hub.mode", &C::hub, &HubConfig::mode, "per-device",
          "per-device: a session per identity; gateway: everything on the gateway's identity."),
      key("hub.token_ttl", &C::hub, &HubConfig::token_ttl, "1h",
          "SAS token lifetime; renewed at about 80 %.", Range<Duration>{5s, 24h * 365}),
      key("hub.connect_rate", &C::hub, &HubConfig::connect_rate, "10/s",
          "New connections per period across all identities (token bucket).",
          Range<Rate>{Rate{1, 24h}, {}}),
      key("hub.send_rate", &C::hub, &HubConfig::send_rate, "0/s",
          "Messages per period across identities; 0 means unlimited.", Range<Rate>{kNoLimit, {}}),
      key("hub.keepalive", &C::hub, &HubConfig::keepalive, "4m",
          "MQTT keep-alive; the hub drops idle clients after 1.5x, capped at 1767 s.",
          Range<Duration>{30s, 1177s}),
      key("hub.inflight", &C::hub, &HubConfig::inflight, "32",
          "QoS 1 messages awaiting PUBACK per session.", Range<std::int64_t>{1, 1000}),
      key("hub.method_timeout", &C::hub, &HubConfig::method_timeout, "30s",
          "How long a device may take to answer a direct method before it is answered 504.",
          Range<Duration>{1s, 300s}),
      key("hub.stall_timeout", &C::hub, &HubConfig::stall_timeout, "60s",
          "No PUBACK progress for this long with messages in flight: reconnect.",
          Range<Duration>{5s, 1h}),

      key("store.max_size", &C::store, &StoreConfig::max_size, "256MiB",
          "Largest size of the journal file.", Range<ByteSize>{ByteSize{1 << 20}, {}}),
      key("store.min_free", &C::store, &StoreConfig::min_free, "64MiB",
          "Free space always left on the journal's filesystem."),
      key("store.max_age", &C::store, &StoreConfig::max_age, "7d",
          "Messages older than this are dropped and counted.", Range<Duration>{1min, 24h * 365}),
      key("store.on_full", &C::store, &StoreConfig::on_full, "drop-oldest",
          "What to drop when a bound is reached."),
      key("store.sync", &C::store, &StoreConfig::sync, "normal",
          "full: every commit survives power loss; normal: survives a process crash."),
      key("store.commit_interval", &C::store, &StoreConfig::commit_interval, "20ms",
          "Longest time an accepted reading waits for its group commit.",
          Range<Duration>{1ms, 10s}),

      key("status.listen", &C::status, &StatusConfig::listen, "127.0.0.1:8086",
          "Status endpoint: a loopback host:port or unix:/path."),

      key("unknown_sources", &C::unknown_sources, "reject",
          "Readings from sources with no identity: reject (counted) or send on the gateway "
          "identity."),
  };
  return fields;
}

const std::vector<Field<IdentityBinding>>& identity_fields() {
  using I = IdentityBinding;
  static const std::vector<Field<IdentityBinding>> fields{
      key("source", &I::source, std::nullopt,
          "Source address (e.g. modbus://boiler-line/3), or a pattern with + levels."),
      key("device_id", &I::device_id, std::nullopt,
          "Hub device id; {1}, {2}… insert the pattern's + levels."),
      key("module_id", &I::module_id, "", "Hub module id, for a module identity."),
      key("key_file", &I::key_file, "",
          "Base64 symmetric key (SAS), or the private key of cert_file."),
      key("cert_file", &I::cert_file, "", "X.509 client certificate (PEM)."),
      key("group_key_file", &I::group_key_file, "",
          "Group key from which each device's key is derived as DPS does."),
  };
  return fields;
}

std::string schema_reference() {
  std::string out = "| key | type | default | range | description |\n|---|---|---|---|---|\n";
  auto add = [&out](const auto& f, std::string_view prefix) {
    out += "| `" + std::string(prefix) + f.key + "` | " + f.type + " | " +
           (f.default_text ? "`" + *f.default_text + "`" : std::string("required")) + " | " +
           f.range + " | " + f.description + " |\n";
  };
  for (const auto& f : config_fields())
    add(f, "");
  for (const auto& f : identity_fields())
    add(f, "identities[].");
  return out;
}

}  // namespace fieldlink::config
