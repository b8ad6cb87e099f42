// `type: mqtt` entries through the real config loader: accepted keys, defaults, and every error
// with its exact file:line:column.
#include <gtest/gtest.h>

#include "adapters/builtin.hpp"
#include "adapters/mqtt/mqtt_settings.hpp"
#include "config/loader.hpp"
#include "config_test_support.hpp"

namespace fieldlink::mqtt {
namespace {

using fieldlink::testing::TempDir;

struct Loaded {
  std::shared_ptr<const MqttSettings> settings;
  std::string errors;  // diagnostics with the temp folder removed
};

Loaded load(const std::string& adapter_yaml) {
  TempDir dir;
  const auto path = dir.write("f.yaml", "adapters:\n" + adapter_yaml);
  const auto r = config::load_config(path, builtin_adapters());
  Loaded out;
  out.errors = r.diagnostics.to_string();
  for (auto pos = out.errors.find(dir.path().string() + "/"); pos != std::string::npos;
       pos = out.errors.find(dir.path().string() + "/")) {
    out.errors.erase(pos, dir.path().string().size() + 1);
  }
  if (r.config && !r.config->adapters.empty()) {
    out.settings = std::dynamic_pointer_cast<const MqttSettings>(r.config->adapters[0].settings);
  }
  return out;
}

TEST(MqttSettings, MinimalEntryGetsDefaults) {
  const auto l = load(
      "  - name: plant\n"
      "    type: mqtt\n"
      "    topics:\n"
      "      - { filter: plant/+/telemetry, device: \"{1}\" }\n");
  ASSERT_TRUE(l.settings) << l.errors;
  const auto& s = *l.settings;
  EXPECT_EQ(s.host, "127.0.0.1");
  EXPECT_EQ(s.port, 1883);
  EXPECT_EQ(s.client_id, "fieldlink-plant");
  EXPECT_EQ(s.offline_after, std::chrono::minutes(5));
  EXPECT_FALSE(s.tls);
  ASSERT_EQ(s.topics.size(), 1u);
  EXPECT_EQ(s.topics[0].format, PayloadFormat::json);
  EXPECT_FALSE(s.c2d_topic);
}

TEST(MqttSettings, FullEntry) {
  const auto l = load(
      "  - name: plant\n"
      "    type: mqtt\n"
      "    host: broker.local\n"
      "    port: 1884\n"
      "    client_id: fl-7\n"
      "    topics:\n"
      "      - filter: plant/+/telemetry\n"
      "        device: \"{1}\"\n"
      "        format: json\n"
      "        fields: [ { name: temperature, path: data.t }, { name: h } ]\n"
      "      - { filter: plant/+/level, device: \"{1}\", format: value, name: level }\n"
      "      - { filter: bus/#, device_field: id }\n"
      "    c2d_topic: plant/{device}/c2d\n"
      "    method_topic: plant/{device}/methods/{method}\n"
      "    desired_topic: plant/{device}/desired\n"
      "    reported_topic: plant/{device}/reported\n"
      "    offline_after: 90s\n");
  ASSERT_TRUE(l.settings) << l.errors;
  const auto& s = *l.settings;
  EXPECT_EQ(s.host, "broker.local");
  EXPECT_EQ(s.client_id, "fl-7");
  ASSERT_EQ(s.topics.size(), 3u);
  ASSERT_EQ(s.topics[0].fields.size(), 2u);
  EXPECT_EQ(s.topics[0].fields[1].path, "h");
  EXPECT_EQ(s.topics[1].value_name, "level");
  EXPECT_EQ(s.topics[2].device_field, "id");
  EXPECT_EQ(s.method_topic->as_filter(), "plant/+/methods/+");
  EXPECT_EQ(s.offline_after, std::chrono::seconds(90));
}

TEST(MqttSettings, UnknownKeySuggestsTheRightOne) {
  const auto l = load(
      "  - name: plant\n"
      "    type: mqtt\n"
      "    hots: 10.0.0.1\n"
      "    topics: [ { filter: a/+, device: \"{1}\", fromat: json } ]\n");
  EXPECT_FALSE(l.settings);
  EXPECT_NE(l.errors.find("f.yaml:4:5: adapters[0].hots: unknown key 'hots'"), std::string::npos)
      << l.errors;
  EXPECT_NE(l.errors.find("did you mean 'host'?"), std::string::npos) << l.errors;
  EXPECT_NE(l.errors.find("f.yaml:5:45: adapters[0].topics[0].fromat: unknown key 'fromat'"),
            std::string::npos)
      << l.errors;
}

TEST(MqttSettings, ErrorsPointAtTheirKeys) {
  const auto l = load(
      "  - name: plant\n"
      "    type: mqtt\n"
      "    port: 70000\n"
      "    topics:\n"
      "      - { filter: a/b+/c, device: \"{1}\" }\n"
      "      - { filter: a/+/c, device: \"{2}\" }\n"
      "      - { filter: a/+/c }\n"
      "      - { filter: a/+/c, device: x, format: blob }\n"
      "    c2d_topic: plant/c2d\n"
      "    method_topic: plant/m-{device}/{method}\n"
      "    reported_topic: plant/{dev}/reported\n"
      "    password_file: missing.pw\n");
  EXPECT_FALSE(l.settings);
  EXPECT_EQ(l.errors,
            "f.yaml:4:11: adapters[0].port: must be between 1 and 65535, got 70000\n"
            "f.yaml:6:19: adapters[0].topics[0].filter: '+' must fill a whole topic level, as in "
            "a/+/b; got 'b+'\n"
            "f.yaml:7:34: adapters[0].topics[1].device: unknown placeholder {2}; this key may "
            "use {1}\n"
            "f.yaml:8:9: adapters[0].topics[2]: missing device: set device (e.g. \"{1}\") or "
            "device_field\n"
            "f.yaml:9:45: adapters[0].topics[3].format: expected one of: json, value, raw, got "
            "'blob'\n"
            "f.yaml:10:16: adapters[0].c2d_topic: must contain {device}, e.g. plant/{device}/c2d\n"
            "f.yaml:11:19: adapters[0].method_topic: {device} must fill a whole topic level, as "
            "in plant/{device}/x\n"
            "f.yaml:12:21: adapters[0].reported_topic: unknown placeholder {dev}; this key may "
            "use {device}\n"
            "f.yaml:13:20: adapters[0].password_file: cannot use key file missing.pw: No such "
            "file or directory\n");
}

TEST(MqttSettings, TopicsAreRequired) {
  const auto l = load("  - { name: plant, type: mqtt }\n");
  EXPECT_EQ(l.errors,
            "f.yaml:2:5: adapters[0]: missing required key 'topics' (list of topic filters)\n");
}

TEST(MqttSettings, ReferenceListsTheKeys) {
  const auto ref = mqtt_schema_reference();
  // Without its header row the Markdown table in docs/configuration.md does not render.
  EXPECT_TRUE(ref.starts_with("| key | type | default | range | description |\n|---|")) << ref;
  for (const auto* k : {"| `host` |", "| `c2d_topic` |", "| `topics[].filter` | string | required",
                        "| `topics[].fields[].name` |"}) {
    EXPECT_NE(ref.find(k), std::string::npos) << k;
  }
}

}  // namespace
}  // namespace fieldlink::mqtt
