#include "adapters/mqtt/mqtt_settings.hpp"

#include <filesystem>

#include "config/adapter_settings.hpp"
#include "config/field.hpp"
#include "config/map_reader.hpp"

namespace fieldlink::config {
FIELDLINK_CONFIG_ENUM(mqtt::PayloadFormat, {"json", mqtt::PayloadFormat::json},
                      {"value", mqtt::PayloadFormat::value}, {"raw", mqtt::PayloadFormat::raw});
}  // namespace fieldlink::config

namespace fieldlink::mqtt {
namespace {

using namespace std::chrono_literals;
using config::Duration;
using config::key;
using config::Range;
using Kind = ConfigNode::Kind;

const std::vector<config::Field<MqttSettings>>& adapter_fields() {
  using S = MqttSettings;
  static const std::vector<config::Field<MqttSettings>> fields{
      key("host", &S::host, "127.0.0.1", "Host name or address of the local broker."),
      key("port", &S::port, "1883", "Broker port (plain MQTT, or MQTT over TLS when tls: true).",
          Range<std::int64_t>{1, 65535}),
      key("socket", &S::socket, "",
          "Unix socket of the broker; when set, host and port are not used."),
      key("client_id", &S::client_id, "",
          "MQTT client id; stable, because the broker keeps this adapter's session (clean "
          "session off) under it. Default: fieldlink-<adapter name>."),
      key("keepalive", &S::keepalive, "30s", "MQTT keep-alive towards the local broker.",
          Range<Duration>{5s, 65535s}),
      key("tls", &S::tls, "false",
          "Connect with TLS, verifying the broker against ca_file. Messages are then acknowledged "
          "to the broker on receipt, not once journaled (operations.md, section 7)."),
      key("ca_file", &S::ca_file, "/etc/ssl/certs/ca-certificates.crt",
          "CA bundle the broker's certificate must chain to (with tls: true)."),
      key("username", &S::username, "", "MQTT user name; empty: anonymous."),
      key("password_file", &S::password_file, "",
          "File whose first line is the MQTT password (needs username); never logged."),
      key("reconnect_min", &S::reconnect_min, "1s", "First delay before reconnecting.",
          Range<Duration>{1s, 1h}),
      key("reconnect_max", &S::reconnect_max, "30s",
          "Longest delay between reconnect attempts (the delay grows up to it).",
          Range<Duration>{1s, 1h}),
      key("offline_after", &S::offline_after, "5m",
          "A device unseen this long is reported offline (status and fieldlink.online=false).",
          Range<Duration>{1s, 24h * 30}),
      key("max_payload", &S::max_payload, "64KiB",
          "Largest message payload taken; a bigger one is skipped and counted as invalid "
          "(too_large). IoT Hub takes at most 256 KB per message.",
          Range<config::ByteSize>{config::ByteSize{1}, config::ByteSize{256 << 20}}),
      key("c2d_topic", &S::c2d_text, "",
          "Where C2D messages are published, with {device}; empty: C2D not supported."),
      key("method_topic", &S::method_text, "",
          "Direct methods are published to <this>/<rid> ({device}, {method}); the device answers "
          "on <that>/res or <that>/res/<status>. Empty: methods not supported."),
      key("desired_topic", &S::desired_text, "",
          "Where desired-property patches are published, with {device}."),
      key("reported_topic", &S::reported_text, "",
          "Where devices publish reported-property patches (JSON objects), with {device}."),
  };
  return fields;
}

const std::vector<config::Field<TopicRoute>>& topic_fields() {
  using T = TopicRoute;
  static const std::vector<config::Field<TopicRoute>> fields{
      key("filter", &T::filter_text, std::nullopt,
          "MQTT topic filter to subscribe to (QoS 1), e.g. plant/+/telemetry."),
      key("device", &T::device_text, "",
          "Device key from the filter's wildcards: {1} is the first + (or #) level."),
      key("device_field", &T::device_field, "",
          "Or: the JSON field (dotted path) that holds the device key."),
      key("format", &T::format, "json",
          "json: an object; value: a bare number or text; raw: bytes as base64."),
      key("name", &T::value_name, "",
          "Name of the one value for format value (default value) or raw (default raw)."),
  };
  return fields;
}

const std::vector<config::Field<FieldMapping>>& mapping_fields() {
  using F = FieldMapping;
  static const std::vector<config::Field<FieldMapping>> fields{
      key("name", &F::name, std::nullopt, "Name of the value in the reading."),
      key("path", &F::path, "", "JSON field (dotted path) it comes from; default: the name."),
  };
  return fields;
}

Location where_of(const config::SetAt& set_at, const std::string& path, const Location& fallback) {
  const auto it = set_at.find(path);
  return it != set_at.end() ? it->second : fallback;
}

void read_fields(const ConfigNode& list, const std::string& path, TopicRoute& route,
                 Diagnostics& diag) {
  if (list.kind != Kind::sequence) {
    diag.add(list.where, path,
             "expected a list of { name, path } mappings, " + config::got_text(list));
    return;
  }
  for (size_t i = 0; i < list.items.size(); ++i) {
    const auto& item = list.items[i];
    const auto item_path = path + "[" + std::to_string(i) + "]";
    if (item.kind != Kind::map) {
      diag.add(item.where, item_path,
               "expected a mapping like { name: temp, path: data.t }, " + config::got_text(item));
      continue;
    }
    FieldMapping m;
    config::apply_defaults(mapping_fields(), m, diag);
    read_map(item, "", item_path, mapping_fields(), m, diag);
    if (m.path.empty()) m.path = m.name;
    route.fields.push_back(std::move(m));
  }
}

void read_topics(const ConfigNode& list, const std::string& path, MqttSettings& s,
                 Diagnostics& diag) {
  if (list.kind != Kind::sequence || list.items.empty()) {
    diag.add(list.where, path,
             "expected a list of topics with at least one { filter, device, format }, " +
                 config::got_text(list));
    return;
  }
  for (size_t i = 0; i < list.items.size(); ++i) {
    const auto& item = list.items[i];
    const auto item_path = path + "[" + std::to_string(i) + "]";
    if (item.kind != Kind::map) {
      diag.add(item.where, item_path,
               "expected a mapping like { filter: plant/+/telemetry, device: \"{1}\" }, " +
                   config::got_text(item));
      continue;
    }
    TopicRoute route;
    route.where = item.where;
    config::apply_defaults(topic_fields(), route, diag);
    config::SetAt set_at;
    const auto before = diag.size();
    read_map(item, "", item_path, topic_fields(), route, diag, {"fields"}, &set_at);
    if (const auto* fields = item.find("fields")) {
      if (route.format != PayloadFormat::json) {
        diag.add(fields->where, item_path + ".fields", "fields applies only to format: json");
      } else {
        read_fields(*fields, item_path + ".fields", route, diag);
      }
    }
    if (diag.size() != before) continue;
    std::string why;
    route.filter = TopicFilter::parse(route.filter_text, &why);
    if (!route.filter) {
      diag.add(where_of(set_at, item_path + ".filter", item.where), item_path + ".filter", why);
      continue;
    }
    const bool has_device = !route.device_text.empty();
    const bool has_field = !route.device_field.empty();
    if (has_device == has_field) {
      diag.add(item.where, item_path,
               has_device ? "set either device or device_field, not both"
                          : "missing device: set device (e.g. \"{1}\") or device_field");
      continue;
    }
    if (has_field && route.format != PayloadFormat::json) {
      diag.add(where_of(set_at, item_path + ".device_field", item.where),
               item_path + ".device_field", "device_field needs format: json");
      continue;
    }
    if (has_device) {
      route.device =
          TopicTemplate::parse(route.device_text, {}, route.filter->wildcard_count(), &why);
      if (!route.device) {
        diag.add(where_of(set_at, item_path + ".device", item.where), item_path + ".device",
                 why + (route.filter->wildcard_count() == 0
                            ? " (the filter '" + route.filter_text + "' has no wildcard)"
                            : ""));
        continue;
      }
      bool uses_capture = false;
      for (size_t k = 1; k <= route.filter->wildcard_count(); ++k)
        uses_capture = uses_capture || route.device->uses(std::to_string(k));
      // A constant key is allowed (one device per filter) but must itself be a valid key.
      if (!uses_capture && !valid_device_key(route.device_text)) {
        diag.add(where_of(set_at, item_path + ".device", item.where), item_path + ".device",
                 "'" + route.device_text + "' is not a valid device key");
        continue;
      }
    }
    s.topics.push_back(std::move(route));
  }
}

// A downlink/uplink topic template; `whole_levels` placeholders must each fill one topic level
// so answers and reported messages can be matched back to their device.
std::optional<TopicTemplate> read_template(const std::string& text, const std::string& key_path,
                                           const std::vector<std::string>& names,
                                           const std::vector<std::string>& whole_levels,
                                           const config::SetAt& set_at, const Location& fallback,
                                           Diagnostics& diag) {
  if (text.empty()) return std::nullopt;
  const auto where = where_of(set_at, key_path, fallback);
  std::string why;
  auto t = TopicTemplate::parse(text, names, 0, &why);
  if (!t) {
    diag.add(where, key_path, why);
    return std::nullopt;
  }
  if (!t->uses("device")) {
    diag.add(where, key_path, "must contain {device}, e.g. plant/{device}/c2d");
    return std::nullopt;
  }
  for (const auto& n : whole_levels) {
    if (t->uses(n) && !t->whole_level(n)) {
      diag.add(where, key_path,
               "{" + n + "} must fill a whole topic level, as in plant/{" + n + "}/x");
      return std::nullopt;
    }
  }
  if (std::string filter_why; !TopicFilter::parse(t->as_filter(), &filter_why) ||
                              text.find_first_of("+#") != std::string::npos) {
    diag.add(where, key_path, "must not contain the wildcards + or #");
    return std::nullopt;
  }
  return t;
}

// Every key of one mqtt adapter entry and the checks that involve several of them.
void read_adapter(const ConfigNode& item, const std::string& path, MqttSettings& s,
                  Diagnostics& diag) {
  config::apply_defaults(adapter_fields(), s, diag);
  config::SetAt set_at;
  read_map(item, "", path, adapter_fields(), s, diag, {"name", "type", "topics"}, &set_at);
  if (const auto* topics = item.find("topics")) {
    read_topics(*topics, path + ".topics", s, diag);
  } else {
    diag.add(item.where, path, "missing required key 'topics' (list of topic filters)");
  }
  if (s.client_id.empty()) s.client_id = "fieldlink-" + s.name.str();
  if (!s.password_file.path.empty() && s.username.empty()) {
    diag.add(where_of(set_at, path + ".password_file", item.where), path + ".password_file",
             "password_file needs username");
  }
  if (s.tls && !std::filesystem::is_regular_file(s.ca_file.path)) {
    diag.add(where_of(set_at, path + ".ca_file", where_of(set_at, path + ".tls", item.where)),
             path + ".ca_file", "cannot use CA file " + s.ca_file.path + ": no such file");
  }
  if (!s.socket.path.empty() && s.tls) {
    diag.add(where_of(set_at, path + ".tls", item.where), path + ".tls",
             "tls is for TCP connections; a unix socket is already local");
  }
  if (s.reconnect_max < s.reconnect_min) {
    diag.add(where_of(set_at, path + ".reconnect_max", item.where), path + ".reconnect_max",
             "must be at least reconnect_min (" + config::format_duration(s.reconnect_min) + ")");
  }
  s.c2d_topic =
      read_template(s.c2d_text, path + ".c2d_topic", {"device"}, {}, set_at, item.where, diag);
  s.method_topic = read_template(s.method_text, path + ".method_topic", {"device", "method"},
                                 {"device", "method"}, set_at, item.where, diag);
  s.desired_topic = read_template(s.desired_text, path + ".desired_topic", {"device"}, {}, set_at,
                                  item.where, diag);
  s.reported_topic = read_template(s.reported_text, path + ".reported_topic", {"device"},
                                   {"device"}, set_at, item.where, diag);
}

}  // namespace

std::shared_ptr<const MqttSettings> parse_mqtt_settings(const ConfigNode& item,
                                                        const std::string& path,
                                                        Diagnostics& diag) {
  return config::parse_adapter<MqttSettings>(
      item, diag, [&](MqttSettings& s) { read_adapter(item, path, s, diag); });
}

std::string mqtt_schema_reference() {
  return config::reference_header() + config::reference_rows("", adapter_fields()) +
         config::reference_rows("topics[].", topic_fields()) +
         config::reference_rows("topics[].fields[].", mapping_fields());
}

}  // namespace fieldlink::mqtt
