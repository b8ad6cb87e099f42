#include "adapters/modbus/poll_plan.hpp"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

namespace fieldlink::modbus {

PollPlan PollPlan::build(const DeviceMap& device) {
  // Interval → table → point indices, so the plan's order does not depend on the config's order.
  std::map<std::chrono::milliseconds, std::map<Table, std::vector<size_t>>> by_interval;
  for (size_t i = 0; i < device.points.size(); ++i) {
    const auto& p = device.points[i];
    by_interval[p.poll.count() > 0 ? p.poll : device.poll][p.table].push_back(i);
  }
  PollPlan plan;
  for (auto& [interval, tables] : by_interval) {
    PollGroup group{interval, {}};
    for (auto& [table, indices] : tables) {
      std::stable_sort(indices.begin(), indices.end(), [&](size_t a, size_t b) {
        return device.points[a].address < device.points[b].address;
      });
      const int limit = is_bit_table(table) ? device.max_bits : device.max_registers;
      ReadRequest* current = nullptr;
      int end = 0;  // one past the last register of `current`
      for (const auto i : indices) {
        const auto& p = device.points[i];
        const int first = p.address;
        const int last = first + p.width();  // exclusive
        const bool joins = current != nullptr && first - end <= device.max_gap &&
                           std::max(end, last) - current->start <= limit;
        if (!joins) {
          group.requests.push_back({table, p.address, 0, {}});
          current = &group.requests.back();
          end = first;
        }
        end = std::max(end, last);
        current->count = static_cast<std::uint16_t>(end - current->start);
        current->slots.push_back({i, static_cast<std::uint16_t>(first - current->start)});
      }
    }
    plan.groups_.push_back(std::move(group));
  }
  return plan;
}

size_t PollPlan::request_count() const {
  size_t n = 0;
  for (const auto& g : groups_)
    n += g.requests.size();
  return n;
}

size_t PollPlan::register_count() const {
  size_t n = 0;
  for (const auto& g : groups_) {
    for (const auto& r : g.requests)
      n += r.count;
  }
  return n;
}

void PollPlan::describe(const DeviceMap& device, nlohmann::json& out) const {
  out["requests_per_round"] = request_count();
  auto& groups = out["groups"] = nlohmann::json::array();
  for (const auto& g : groups_) {
    auto& requests = (groups.emplace_back()["requests"] = nlohmann::json::array());
    groups.back()["interval_ms"] = g.interval.count();
    for (const auto& r : g.requests) {
      nlohmann::json names = nlohmann::json::array();
      for (const auto& s : r.slots)
        names.push_back(device.points[s.point].name);
      requests.push_back({{"table", table_name(r.table)},
                          {"start", r.start},
                          {"count", r.count},
                          {"points", std::move(names)}});
    }
  }
}

}  // namespace fieldlink::modbus
