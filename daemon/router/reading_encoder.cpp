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

nlohmann::json json_of(const Value& value) {
  return std::visit(
      [](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        // JSON has no NaN or infinity; a sensor's NaN is "no value", not a string.
        if constexpr (std::is_same_v<T, double>) {
          return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
        } else {
          return nlohmann::json(v);
        }
      },
      value);
}

}  // namespace

std::string encode_reported(const Reading& reading) {
  nlohmann::json patch = nlohmann::json::object();
  for (const auto& [name, value] : reading.values) {
    nlohmann::json* at = &patch;
    std::string_view rest = name;
    for (auto dot = rest.find('.'); dot != std::string_view::npos; dot = rest.find('.')) {
      at = &(*at)[std::string(rest.substr(0, dot))];
      if (!at->is_object()) *at = nlohmann::json::object();
      rest.remove_prefix(dot + 1);
    }
    (*at)[std::string(rest)] = json_of(value);
  }
  return patch.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string encode_reading(const Reading& reading) {
  nlohmann::json values = nlohmann::json::object();
  for (const auto& [name, value] : reading.values)
    values[name] = json_of(value);
  nlohmann::json doc{{"source", reading.source.str()},
                     {"ts", utc_iso8601(reading.sampled_at)},
                     {"quality", quality_name(reading.quality)},
                     {"values", std::move(values)}};
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace fieldlink
