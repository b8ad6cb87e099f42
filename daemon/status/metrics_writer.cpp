#include "status/metrics_writer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace fieldlink {
namespace {

std::string escape_label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

void MetricsWriter::counter(std::string_view name, std::string_view help, double value,
                            const Labels& labels) {
  add("counter", name, help, value, labels);
}

void MetricsWriter::gauge(std::string_view name, std::string_view help, double value,
                          const Labels& labels) {
  add("gauge", name, help, value, labels);
}

void MetricsWriter::add(std::string_view type, std::string_view name, std::string_view help,
                        double value, const Labels& labels) {
  auto it = std::find_if(families_.begin(), families_.end(),
                         [&](const Family& f) { return f.name == name; });
  if (it == families_.end()) {
    families_.push_back({std::string(name), std::string(type), std::string(help), {}});
    it = std::prev(families_.end());
  }
  it->samples += name;
  if (!labels.empty()) {
    it->samples += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i) it->samples += ',';
      it->samples.append(labels[i].first).append("=\"").append(escape_label(labels[i].second));
      it->samples += '"';
    }
    it->samples += '}';
  }
  it->samples.append(" ").append(number(value)).append("\n");
}

std::string MetricsWriter::text() const {
  std::string out;
  for (const auto& f : families_) {
    out.append("# HELP ").append(f.name).append(" ").append(f.help).append("\n");
    out.append("# TYPE ").append(f.name).append(" ").append(f.type).append("\n");
    out.append(f.samples);
  }
  return out;
}

}  // namespace fieldlink
