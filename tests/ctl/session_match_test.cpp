#include "session_match.hpp"

#include <gtest/gtest.h>

namespace fieldlink::ctl {
namespace {

TEST(SessionMatch, ExactAndTemplated) {
  EXPECT_TRUE(session_belongs("boiler-3", "boiler-3"));
  EXPECT_FALSE(session_belongs("boiler-3", "boiler-33"));
  EXPECT_TRUE(session_belongs("plant-{1}", "plant-s1"));
  EXPECT_FALSE(session_belongs("plant-{1}", "plant-"));
  EXPECT_TRUE(session_belongs("{1}-x-{2}", "a-x-b-x-c"));
}

TEST(SessionMatch, SummaryCountsOnline) {
  const auto sessions = nlohmann::json::parse(
      R"([{"identity":"plant-a","state":"online"},{"identity":"plant-b","state":"backoff"},
          {"identity":"other","state":"online"}])");
  const auto s = sessions_for("plant-{1}", sessions);
  EXPECT_EQ(s.total, 2u);
  EXPECT_EQ(s.online, 1u);
  EXPECT_EQ(sessions_for("other", sessions).single_state, "online");
}

}  // namespace
}  // namespace fieldlink::ctl
