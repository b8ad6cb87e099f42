#pragma once
// The live state shown by /status, /healthz and /metrics. Each part that has something to show
// attaches a StatusProvider; the board asks them at request time, so what is served is never a
// stale copy and no part keeps a second set of counters for display.
// Thread: the core loop's, like the providers' state.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "status/metrics_writer.hpp"

namespace fieldlink {

class StatusProvider {
 public:
  virtual ~StatusProvider() = default;
  // Adds the provider's part to the /status document (its own keys or sections).
  virtual void describe(nlohmann::json& status) const = 0;
  // The same part for /status?sessions=summary: a provider with a row per session gives counts
  // instead (and saves building thousands of rows only to count them). Most have no such rows.
  virtual void describe_summary(nlohmann::json& status) const { describe(status); }
  virtual void collect(MetricsWriter& metrics) const = 0;
  // Appends a reason for each thing that makes the gateway unhealthy right now.
  virtual void health(std::vector<std::string>& problems) const = 0;
};

class StatusBoard {
 public:
  void attach(const StatusProvider& provider) { providers_.push_back(&provider); }
  void detach(const StatusProvider& provider);

  // `summary`: each provider's describe_summary instead of describe.
  nlohmann::json status(bool summary = false) const;
  std::string metrics() const;
  std::vector<std::string> problems() const;

 private:
  std::vector<const StatusProvider*> providers_;
};

}  // namespace fieldlink
