#pragma once
// What comes down from the hub for one device, and what the device made of it.
#include <chrono>
#include <string>

#include "core/ids.hpp"
#include "core/message.hpp"

namespace fieldlink {

struct Command {
  enum class Kind { c2d, method, desired };
  Kind kind = Kind::c2d;
  SourceAddress target;
  std::string name;        // method name; empty for C2D and desired patches
  std::string payload;     // method JSON, C2D body, or desired patch JSON
  Properties properties;   // C2D application properties
  std::string request_id;  // `$rid` of a method, message id of a C2D
  std::chrono::steady_clock::time_point deadline;
};

// The device's real result. Statuses follow HTTP as direct methods do: 200 done, 400 invalid
// request, 404 unknown or offline device, 502 device refused, 504 device did not answer in time.
struct Outcome {
  int status = 200;
  std::string payload;  // JSON

  bool ok() const { return status >= 200 && status < 300; }
};

}  // namespace fieldlink
