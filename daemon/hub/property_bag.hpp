#pragma once
// IoT Hub's property bag: the `name=value&…` tail of a telemetry or C2D topic, carrying system
// properties (`$.mid`, `$.ct`, …) and application properties (iothub-mqtt.md §4.2, §5.2).
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/message.hpp"

namespace fieldlink::hub {

// The properties of one message as the hub sees them. System properties have fixed names;
// everything else is an application property, in the order it was written.
struct PropertyBag {
  std::string message_id;        // $.mid
  std::string correlation_id;    // $.cid
  std::string content_type;      // $.ct
  std::string content_encoding;  // $.ce
  std::string user_id;           // $.uid
  std::string to;                // $.to (C2D)
  std::string expiry;            // $.exp (C2D), ISO-8601 as sent
  std::string creation_time;     // $.ctime, ISO-8601 UTC
  Properties application;

  std::string encode() const;
  // nullopt when the bag is not valid percent-encoding.
  static std::optional<PropertyBag> decode(std::string_view bag);
};

// The bag of a telemetry message: id, content type/encoding, creation time and its properties.
PropertyBag bag_of(const Message& message);

}  // namespace fieldlink::hub
