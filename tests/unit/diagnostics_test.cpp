#include "core/diagnostics.hpp"

#include <gtest/gtest.h>

namespace fieldlink {
namespace {

TEST(Diagnostics, FormatsFileLineColumnKeyAndMessage) {
  Diagnostic d{{"/etc/fieldlink/fieldlink.yaml", 12, 14}, "hub.token_ttl", "must be at least 5s"};
  EXPECT_EQ(d.to_string(),
            "/etc/fieldlink/fieldlink.yaml:12:14: hub.token_ttl: must be at least 5s");
  Diagnostic whole{{"a.yaml", 0, 0}, "", "cannot open the file"};
  EXPECT_EQ(whole.to_string(), "a.yaml: cannot open the file");
}

TEST(Diagnostics, ListsAllSortedByPosition) {
  Diagnostics ds;
  ds.add({"b.yaml", 1, 1}, "x", "third");
  ds.add({"a.yaml", 9, 1}, "y", "second");
  ds.add({"a.yaml", 2, 5}, "z", "first");
  EXPECT_EQ(ds.to_string(), "a.yaml:2:5: z: first\na.yaml:9:1: y: second\nb.yaml:1:1: x: third\n");
}

}  // namespace
}  // namespace fieldlink
