#pragma once
// A hub message: what the journal stores and a session publishes. The body is shared and
// immutable so handing a message from router to journal to session never copies it.
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/ids.hpp"

namespace fieldlink {

using Properties = std::vector<std::pair<std::string, std::string>>;

struct Message {
  Identity identity;
  std::string id;  // `$.mid`; stable across retries so the cloud can de-duplicate
  std::shared_ptr<const std::string> body;
  std::string content_type;                       // `$.ct`
  std::string content_encoding;                   // `$.ce`
  Properties properties;                          // application properties
  std::chrono::system_clock::time_point created;  // `iothub-creation-time-utc`
};

}  // namespace fieldlink
