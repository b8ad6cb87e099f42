#include "config/schema.hpp"

#include "config/field.hpp"

namespace fieldlink::config {

FIELDLINK_CONFIG_ENUM(LogLevel, {"error", LogLevel::error}, {"warning", LogLevel::warning},
                      {"notice", LogLevel::notice}, {"info", LogLevel::info},
                      {"debug", LogLevel::debug});
FIELDLINK_CONFIG_ENUM(HubMode, {"per-device", HubMode::per_device}, {"gateway", HubMode::gateway});
FIELDLINK_CONFIG_ENUM(OnFull, {"drop-oldest", OnFull::drop_oldest},
                      {"reject-new", OnFull::reject_new});
FIELDLINK_CONFIG_ENUM(SyncMode, {"normal", SyncMode::normal}, {"full", SyncMode::full});
FIELDLINK_CONFIG_ENUM(UnknownSources, {"reject", UnknownSources::reject},
                      {"gateway", UnknownSources::gateway});

// Only here: no other table has a control socket.
template <>
struct ValueTraits<ControlListen> {
  static std::string type_name() { return "unix:/path, or empty (off)"; }
  static Parsed<ControlListen> parse(std::string_view text, const ParseContext&) {
    if (text.empty()) return Parsed<ControlListen>::ok(ControlListen{});
    if (!text.starts_with("unix:/")) {
      return Parsed<ControlListen>::fail(
          "expected unix:/absolute/path or nothing; the control socket is never on TCP, got '" +
          std::string(text) + "'");
    }
    return Parsed<ControlListen>::ok(ControlListen{std::string(text.substr(5))});
  }
  static std::string format(const ControlListen& v) {
    return v.on() ? "unix:" + v.path : std::string("\"\"");
  }
};

namespace {

using namespace std::chrono_literals;

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
          "Longest time an accepted reading waits for its group commit. A commit starts "
          "sooner when 512 operations wait, or when the MQTT adapter holds 10 PUBACKs for it.",
          Range<Duration>{1ms, 10s}),

      key("status.listen", &C::status, &StatusConfig::listen, "127.0.0.1:8086",
          "Status endpoint: a loopback host:port or unix:/path."),

      key("control.listen", &C::control, &ControlConfig::listen, "",
          "Local control socket for fieldlinkctl invoke and send-c2d (unix:/path, mode 0660); "
          "off when empty."),

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
  return "| key | type | default | range | description |\n|---|---|---|---|---|\n" +
         reference_rows("", config_fields()) + reference_rows("identities[].", identity_fields());
}

}  // namespace fieldlink::config
