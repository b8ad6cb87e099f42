#pragma once
// The control socket's small API (fieldlinkctl invoke / send-c2d), parsed from one HTTP request:
//   POST /devices/{identity}/methods/{name}[?timeout=10s]   body: the method's JSON payload
//   POST /devices/{identity}/c2d[?property=k=v]...          body: the C2D message body
// {identity} is a device id, or device/module with the slash encoded (%2F). Pure: no I/O, so
// every refusal is unit-tested; the server turns a refusal into its HTTP status and message.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fieldlink {

struct ControlRequest {
  enum class Kind { method, c2d };
  Kind kind = Kind::method;
  std::string device_id;
  std::string module_id;  // empty for a device identity
  std::string name;       // method name
  std::string payload;    // method JSON (validated; "null" when the body was empty), C2D body
  std::vector<std::pair<std::string, std::string>> properties;  // C2D application properties
  std::optional<std::chrono::milliseconds> timeout;             // method; else hub.method_timeout
};

struct ControlRefusal {
  int status = 400;
  std::string error;
};

struct ParsedControlRequest {
  std::optional<ControlRequest> request;
  ControlRefusal refusal;  // when there is no request
};

// `verb` as sent ("POST"), `target` the request target with its query, `body` as received.
ParsedControlRequest parse_control_request(std::string_view verb, std::string_view target,
                                           std::string body);

// Longest and shortest method timeout a caller may ask for (hub.method_timeout's range).
inline constexpr std::chrono::seconds kControlMinTimeout{1};
inline constexpr std::chrono::seconds kControlMaxTimeout{300};

}  // namespace fieldlink
