#pragma once
// What an adapter produces: one device's values sampled at one moment (design.md §1).
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/ids.hpp"
#include "core/value.hpp"

namespace fieldlink {

enum class Quality { good, uncertain, bad };

// What the values are. `telemetry`: measurements, sent upstream as a message. `reported`: what
// the device states about itself (a reported-properties patch; nested names joined by '.', which
// twin property names cannot contain) or fieldlink's statement about it (`fieldlink.online`);
// the router turns it into a twin reported patch. Both travel the same durable path, because a
// local-MQTT reported message is acknowledged to its device like telemetry is.
enum class ReadingKind { telemetry, reported };

struct Reading {
  SourceAddress source;
  std::chrono::system_clock::time_point sampled_at;  // UTC
  std::vector<std::pair<std::string, Value>> values;
  Quality quality = Quality::good;
  ReadingKind kind = ReadingKind::telemetry;
};

}  // namespace fieldlink
