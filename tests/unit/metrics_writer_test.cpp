#include "status/metrics_writer.hpp"

#include <gtest/gtest.h>

namespace fieldlink {
namespace {

TEST(MetricsWriter, GroupsSamplesOfAFamilyUnderOneHeader) {
  MetricsWriter m;
  m.counter("fl_drops_total", "Dropped.", 3, {{"reason", "full"}});
  m.gauge("fl_depth", "Depth.", 7);
  m.counter("fl_drops_total", "Dropped.", 1, {{"reason", "expired"}});
  EXPECT_EQ(m.text(),
            "# HELP fl_drops_total Dropped.\n# TYPE fl_drops_total counter\n"
            "fl_drops_total{reason=\"full\"} 3\nfl_drops_total{reason=\"expired\"} 1\n"
            "# HELP fl_depth Depth.\n# TYPE fl_depth gauge\nfl_depth 7\n");
}

TEST(MetricsWriter, EscapesLabelValues) {
  MetricsWriter m;
  m.gauge("g", "h", 0.5, {{"source", "a\"b\\c\nd"}});
  EXPECT_NE(m.text().find("g{source=\"a\\\"b\\\\c\\nd\"} 0.5\n"), std::string::npos);
}

}  // namespace
}  // namespace fieldlink
