// Poll planning: coalescing within limits, bridging gaps up to max_gap, tables and intervals
// kept apart, and the slots that map each point into its request.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "adapters/modbus/poll_plan.hpp"

namespace fieldlink::modbus {
namespace {

using namespace std::chrono_literals;
using K = PointType::Kind;

Point pt(std::string name, Table t, std::uint16_t address, PointType type = {K::uint16}) {
  Point p;
  p.name = std::move(name);
  p.table = t;
  p.address = address;
  p.type = is_bit_table(t) ? PointType{K::boolean} : type;
  return p;
}

struct Span {
  Table table;
  int start;
  int count;
  friend bool operator==(const Span&, const Span&) = default;
};

std::vector<Span> spans(const PollPlan& plan, size_t group = 0) {
  std::vector<Span> out;
  for (const auto& r : plan.groups().at(group).requests)
    out.push_back({r.table, r.start, r.count});
  return out;
}

TEST(PollPlan, ContiguousPointsBecomeOneRequest) {
  DeviceMap d;
  d.points = {pt("a", Table::holding, 0, {K::float32}), pt("b", Table::holding, 2),
              pt("c", Table::holding, 3, {K::uint64})};
  const auto plan = PollPlan::build(d);
  EXPECT_EQ(spans(plan), (std::vector<Span>{{Table::holding, 0, 7}}));
  const auto& slots = plan.groups()[0].requests[0].slots;
  ASSERT_EQ(slots.size(), 3u);
  EXPECT_EQ(slots[2].point, 2u);
  EXPECT_EQ(slots[2].offset, 3);
}

TEST(PollPlan, GapsAreBridgedUpToMaxGapOnly) {
  DeviceMap d;
  d.points = {pt("a", Table::holding, 0), pt("b", Table::holding, 9),  // gap of 8
              pt("c", Table::holding, 19)};                            // gap of 9
  d.max_gap = 8;
  EXPECT_EQ(spans(PollPlan::build(d)),
            (std::vector<Span>{{Table::holding, 0, 10}, {Table::holding, 19, 1}}));
  d.max_gap = 0;
  EXPECT_EQ(PollPlan::build(d).request_count(), 3u);
}

TEST(PollPlan, ConfigOrderDoesNotMatter) {
  DeviceMap d;
  d.points = {pt("c", Table::holding, 4), pt("a", Table::holding, 0), pt("b", Table::holding, 2)};
  d.max_gap = 1;
  EXPECT_EQ(spans(PollPlan::build(d)), (std::vector<Span>{{Table::holding, 0, 5}}));
}

TEST(PollPlan, RequestsStayWithinMaxRegisters) {
  DeviceMap d;
  for (std::uint16_t i = 0; i < 130; i += 2)
    d.points.push_back(pt("f" + std::to_string(i), Table::input, i, {K::float32}));
  const auto plan = PollPlan::build(d);  // 130 registers, limit 125: a float32 is never split
  EXPECT_EQ(spans(plan), (std::vector<Span>{{Table::input, 0, 124}, {Table::input, 124, 6}}));
  d.max_registers = 10;
  const auto small = PollPlan::build(d);
  for (const auto& r : small.groups()[0].requests)
    EXPECT_LE(r.count, 10);
  EXPECT_EQ(PollPlan::build(d).request_count(), 13u);
}

TEST(PollPlan, BitTablesUseTheBitLimit) {
  DeviceMap d;
  for (std::uint16_t i = 0; i < 2100; i += 100)
    d.points.push_back(pt("c" + std::to_string(i), Table::coil, i));
  d.max_gap = 99;
  EXPECT_EQ(spans(PollPlan::build(d)),
            (std::vector<Span>{{Table::coil, 0, 1901}, {Table::coil, 2000, 1}}));
  d.max_bits = 500;
  EXPECT_EQ(PollPlan::build(d).request_count(), 5u);
}

TEST(PollPlan, MixedTablesAreNeverMerged) {
  DeviceMap d;
  d.points = {pt("h", Table::holding, 0), pt("i", Table::input, 1), pt("c", Table::coil, 0),
              pt("d", Table::discrete, 1), pt("h2", Table::holding, 1)};
  d.max_gap = 10;
  EXPECT_EQ(spans(PollPlan::build(d)), (std::vector<Span>{{Table::coil, 0, 1},
                                                          {Table::discrete, 1, 1},
                                                          {Table::input, 1, 1},
                                                          {Table::holding, 0, 2}}));
}

TEST(PollPlan, PointsWithTheirOwnIntervalFormTheirOwnGroup) {
  DeviceMap d;
  d.poll = 1s;
  d.points = {pt("fast", Table::holding, 0), pt("slow", Table::holding, 1),
              pt("also_fast", Table::holding, 2)};
  d.points[1].poll = 1min;
  d.max_gap = 5;
  const auto plan = PollPlan::build(d);
  ASSERT_EQ(plan.groups().size(), 2u);
  EXPECT_EQ(plan.groups()[0].interval, 1s);
  EXPECT_EQ(spans(plan, 0), (std::vector<Span>{{Table::holding, 0, 3}}));
  EXPECT_EQ(spans(plan, 1), (std::vector<Span>{{Table::holding, 1, 1}}));
}

TEST(PollPlan, DescribesItselfForStatus) {
  DeviceMap d;
  d.points = {pt("a", Table::holding, 100, {K::float32}), pt("b", Table::holding, 102)};
  nlohmann::json j;
  PollPlan::build(d).describe(d, j);
  EXPECT_EQ(j["requests_per_round"], 1);
  EXPECT_EQ(
      j["groups"][0]["requests"][0],
      (nlohmann::json{{"table", "holding"}, {"start", 100}, {"count", 3}, {"points", {"a", "b"}}}));
}

}  // namespace
}  // namespace fieldlink::modbus
