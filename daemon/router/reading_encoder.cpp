#include "router/reading_encoder.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/utc_time.hpp"

namespace fieldlink {
namespace {

const char* quality_name(Quality q) {
  switch (q) {
    case Quality::good:
      return "good";
    case Quality::uncertain:
      return "uncertain";
    case Quality::bad:
      return "bad";
  }
  return "?";
}

}  // namespace

std::string encode_reading(const Reading& reading) {
  nlohmann::json values = nlohmann::json::object();
  for (const auto& [name, value] : reading.values) {
    std::visit(
        [&values, &n = name](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          // JSON has no NaN or infinity; a sensor's NaN is "no value", not a string.
          if constexpr (std::is_same_v<T, double>) {
            values[n] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
          } else {
            values[n] = v;
          }
        },
        value);
  }
  nlohmann::json doc{{"source", reading.source.str()},
                     {"ts", utc_iso8601(reading.sampled_at)},
                     {"quality", quality_name(reading.quality)},
                     {"values", std::move(values)}};
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace fieldlink
