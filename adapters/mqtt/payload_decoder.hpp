#pragma once
// Turns one local-broker payload into named typed values, by the topic's `format`:
//  - json:  an object; passed through (nested objects flattened with '.', which IoT Hub twin
//           names cannot contain, so the router can nest them again) or mapped by `fields`.
//           Arrays are kept as their JSON text; nulls are left out.
//  - value: a bare number, true/false or text, as one value named `value_name` (default "value").
//  - raw:   the bytes as base64, as one value named `value_name` (default "raw").
// Thread: pure functions, any thread. Errors are values: a reason text, never an exception.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/mqtt/mqtt_settings.hpp"
#include "core/value.hpp"

namespace fieldlink::mqtt {

struct DecodedPayload {
  std::vector<std::pair<std::string, Value>> values;
  std::string device_key;  // from `device_field`, when the route names one
  std::string error;       // why the payload is invalid; empty when it is valid

  bool ok() const { return error.empty(); }
};

DecodedPayload decode_payload(const TopicRoute& route, std::string_view payload);

// A JSON object as flattened values (the reported-properties path uses it as well).
DecodedPayload decode_json_object(std::string_view payload);

std::string base64_encode(std::string_view bytes);
bool valid_utf8(std::string_view text);

}  // namespace fieldlink::mqtt
