#pragma once
// Builds the Prometheus text exposition (format 0.0.4): one HELP/TYPE header per family and its
// samples together, whatever order the parts report them in.
#include <string>
#include <string_view>
#include <vector>

namespace fieldlink {

class MetricsWriter {
 public:
  using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

  void counter(std::string_view name, std::string_view help, double value,
               const Labels& labels = {});
  void gauge(std::string_view name, std::string_view help, double value, const Labels& labels = {});
  std::string text() const;

 private:
  struct Family {
    std::string name;
    std::string type;
    std::string help;
    std::string samples;
  };
  void add(std::string_view type, std::string_view name, std::string_view help, double value,
           const Labels& labels);

  std::vector<Family> families_;
};

}  // namespace fieldlink
