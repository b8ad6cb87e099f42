#pragma once
// IoT Hub's topic names (iothub-mqtt.md §0.4): building the ones we publish and subscribe to,
// and classifying the ones the hub publishes to us.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.hpp"
#include "hub/property_bag.hpp"

namespace fieldlink::hub {

inline constexpr std::string_view kApiVersion = "2021-04-12";

// "{host}/{device}[/{module}]/?api-version=…&DeviceClientType=fieldlink%2F<version>"
std::string mqtt_username(std::string_view host, const Identity& identity);

std::string telemetry_topic(const Identity& identity, const PropertyBag& bag);
// The four filters of §1.10 (three for a module, which gets no C2D).
std::vector<std::string> subscription_filters(const Identity& identity);

std::string method_response_topic(int status, std::string_view rid);
std::string twin_get_topic(std::string_view rid);
std::string twin_reported_topic(std::string_view rid);

struct Inbound {
  enum class Kind { c2d, method, twin_response, desired, unknown };
  Kind kind = Kind::unknown;
  PropertyBag bag;                      // c2d
  std::string method;                   // method
  std::string rid;                      // method, twin_response
  int status = 0;                       // twin_response
  std::optional<std::int64_t> version;  // twin_response ($version of reported), desired
};

// Classifies a topic the hub published to `identity`; Kind::unknown for anything else
// (including a malformed property bag), which the session counts and drops.
Inbound classify_inbound(std::string_view topic, const Identity& identity);

}  // namespace fieldlink::hub
