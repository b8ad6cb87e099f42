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

struct Reading {
  SourceAddress source;
  std::chrono::system_clock::time_point sampled_at;  // UTC
  std::vector<std::pair<std::string, Value>> values;
  Quality quality = Quality::good;
};

}  // namespace fieldlink
