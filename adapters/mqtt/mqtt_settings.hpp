#pragma once
// The validated settings of one `type: mqtt` adapter (config-contract.yaml, adapters[]), and the
// schema table they are read with. Thread: immutable once parsed; shared by the adapter and its
// network thread.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/mqtt/topic_filter.hpp"
#include "adapters/mqtt/topic_template.hpp"
#include "config/config.hpp"
#include "core/adapter_registry.hpp"

namespace fieldlink::mqtt {

enum class PayloadFormat { json, value, raw };

// One entry of a topic's `fields:` list: a value named `name` taken from the JSON `path`
// (dotted, e.g. `data.t`).
struct FieldMapping {
  std::string name;
  std::string path;
};

struct TopicRoute {
  std::string filter_text;
  std::string device_text;   // `{1}`-style template over the filter's wildcards
  std::string device_field;  // or: the JSON field (dotted path) holding the device key
  PayloadFormat format = PayloadFormat::json;
  std::string value_name;  // the one value's name for `value` and `raw`
  std::vector<FieldMapping> fields;
  Location where;

  // Built from the texts above once they are valid.
  std::optional<TopicFilter> filter;
  std::optional<TopicTemplate> device;
};

struct MqttSettings final : AdapterSettings {
  std::string host;
  std::int64_t port = 1883;
  config::FilePath socket;  // a unix socket path; replaces host/port when set
  std::string client_id;
  config::Duration keepalive{};
  bool tls = false;
  config::FilePath ca_file;
  std::string username;
  config::SecretFile password_file;
  config::Duration reconnect_min{};
  config::Duration reconnect_max{};
  config::Duration offline_after{};
  config::ByteSize max_payload{};

  std::vector<TopicRoute> topics;
  std::string c2d_text, method_text, desired_text, reported_text;
  // Empty when the key is not set: that kind of downlink is answered 404 (not supported here).
  std::optional<TopicTemplate> c2d_topic, method_topic, desired_topic, reported_topic;
};

// Reads one adapters[] entry of type mqtt; nullptr (with diagnostics) when it is not valid.
std::shared_ptr<const MqttSettings> parse_mqtt_settings(const ConfigNode& item,
                                                        const std::string& path,
                                                        Diagnostics& diagnostics);

// The keys of the table, for the config reference.
std::string mqtt_schema_reference();

}  // namespace fieldlink::mqtt
