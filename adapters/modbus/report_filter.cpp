#include "adapters/modbus/report_filter.hpp"

#include <cmath>

namespace fieldlink::modbus {
namespace {

std::optional<double> number(const Value& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* u = std::get_if<std::uint64_t>(&v)) return static_cast<double>(*u);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  return std::nullopt;
}

bool changed(const ReportFilter::Values& before, const ReportFilter::Values& now, double deadband) {
  if (before.size() != now.size()) return true;
  for (size_t i = 0; i < now.size(); ++i) {
    const auto a = number(before[i].second);
    const auto b = number(now[i].second);
    if (deadband > 0 && a && b) {
      if (std::abs(*a - *b) >= deadband) return true;
    } else if (before[i].second != now[i].second) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool ReportFilter::keep(size_t point, const Values& values, TimePoint now) {
  const auto& p = device_.points[point];
  auto& last = last_[point];
  if (p.report == Report::always) return true;
  const bool heartbeat_due = p.heartbeat.count() > 0 && last && now - last->at >= p.heartbeat;
  if (!last || heartbeat_due || changed(last->values, values, p.deadband)) {
    // The deadband is measured from the last value reported, so a slow drift is still
    // reported once it adds up.
    last = Last{values, now};
    return true;
  }
  return false;
}

void ReportFilter::reset() {
  for (auto& l : last_)
    l.reset();
}

}  // namespace fieldlink::modbus
