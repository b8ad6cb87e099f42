#include "status/status_board.hpp"

#include <algorithm>

namespace fieldlink {

void StatusBoard::detach(const StatusProvider& provider) {
  std::erase(providers_, &provider);
}

nlohmann::json StatusBoard::status(bool summary) const {
  // The sections exist even before the parts that fill them run, so tools can rely on the shape.
  nlohmann::json doc{{"adapters", nlohmann::json::array()},
                     {"devices", nlohmann::json::array()},
                     {"sessions", nlohmann::json::array()},
                     {"journal", nlohmann::json::object()}};
  for (const auto* p : providers_) {
    if (summary) {
      p->describe_summary(doc);
    } else {
      p->describe(doc);
    }
  }
  auto problems = this->problems();
  doc["healthy"] = problems.empty();
  doc["problems"] = std::move(problems);
  return doc;
}

std::string StatusBoard::metrics() const {
  MetricsWriter writer;
  for (const auto* p : providers_)
    p->collect(writer);
  return writer.text();
}

std::vector<std::string> StatusBoard::problems() const {
  std::vector<std::string> out;
  for (const auto* p : providers_)
    p->health(out);
  return out;
}

}  // namespace fieldlink
