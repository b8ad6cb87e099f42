// The queries of GET /status (daemon/status/status_query.cpp): compact by default, ?pretty,
// ?sessions=summary, and a refusal of anything else.
#include "status/status_query.hpp"

#include <gtest/gtest.h>

#include "status/status_board.hpp"

namespace fieldlink {
namespace {

// Three sessions in two states, shaped as hub::Upstream describes them.
class ThreeSessions final : public StatusProvider {
 public:
  void describe(nlohmann::json& status) const override {
    for (const auto* state : {"online", "backoff", "online"}) {
      status["sessions"].push_back({{"identity", "d"}, {"state", state}, {"sent", 1}});
    }
    status["gateway"] = "gw";
  }
  void collect(MetricsWriter&) const override {}
  void health(std::vector<std::string>&) const override {}
};

std::string body(const std::string& query) {
  ThreeSessions sessions;
  StatusBoard board;
  board.attach(sessions);
  const auto parsed = parse_status_query(query);
  EXPECT_TRUE(parsed.query) << parsed.error;
  return parsed.query ? status_body(board, *parsed.query) : std::string();
}

TEST(StatusQuery, TheDefaultIsCompactJsonOnOneLine) {
  const auto text = body("");
  ASSERT_TRUE(text.ends_with("}\n"));
  EXPECT_EQ(text.find('\n'), text.size() - 1);
  const auto doc = nlohmann::json::parse(text);
  EXPECT_EQ(doc["sessions"].size(), 3u);
  EXPECT_EQ(doc["gateway"], "gw");
}

// A device name or an error text with bytes that are not UTF-8 must not throw on the core loop.
TEST(StatusQuery, BytesThatAreNotUtf8AreReplacedNotThrown) {
  class Raw final : public StatusProvider {
   public:
    void describe(nlohmann::json& status) const override { status["name"] = "ab\xff\xfe"; }
    void collect(MetricsWriter&) const override {}
    void health(std::vector<std::string>&) const override {}
  } raw;
  StatusBoard board;
  board.attach(raw);
  for (const bool pretty : {false, true}) {
    StatusQuery query;
    query.pretty = pretty;
    std::string text;
    ASSERT_NO_THROW(text = status_body(board, query));
    EXPECT_EQ(nlohmann::json::parse(text)["name"], "ab\xEF\xBF\xBD\xEF\xBF\xBD");
  }
}

TEST(StatusQuery, PrettyIsTheSameDocumentIndented) {
  const auto text = body("pretty");
  EXPECT_NE(text.find("\n  \"gateway\": \"gw\""), std::string::npos) << text;
  EXPECT_EQ(nlohmann::json::parse(text), nlohmann::json::parse(body("")));
  EXPECT_EQ(body("pretty=1"), text);
  EXPECT_EQ(body("pretty=true"), text);
  EXPECT_EQ(body("pretty=0"), body(""));
}

TEST(StatusQuery, SummaryReplacesTheSessionsByCountsPerState) {
  const auto doc = nlohmann::json::parse(body("sessions=summary"));
  EXPECT_EQ(doc["sessions"],
            nlohmann::json({{"count", 3}, {"by_state", {{"online", 2}, {"backoff", 1}}}}));
  EXPECT_EQ(doc["gateway"], "gw");  // the rest of the document stays
  EXPECT_TRUE(nlohmann::json::parse(body("sessions=full"))["sessions"].is_array());
  const auto both = body("pretty&sessions=summary");
  EXPECT_NE(both.find("\n  \"sessions\": {"), std::string::npos) << both;
}

TEST(StatusQuery, SummaryOfNoSessionsIsZero) {
  EXPECT_EQ(summarise_sessions(nlohmann::json::array()),
            nlohmann::json({{"count", 0}, {"by_state", nlohmann::json::object()}}));
}

TEST(StatusQuery, AnUnknownParameterOrValueIsRefusedWithWhatItTakes) {
  auto p = parse_status_query("summary");
  EXPECT_FALSE(p.query);
  EXPECT_EQ(p.error,
            "unknown query parameter 'summary': /status takes pretty and sessions=summary|full");
  p = parse_status_query("sessions=short");
  EXPECT_FALSE(p.query);
  EXPECT_EQ(p.error, "sessions takes summary or full, not 'short'");
  p = parse_status_query("pretty=yes");
  EXPECT_FALSE(p.query);
  EXPECT_EQ(p.error, "pretty takes no value, 1/true or 0/false, not 'yes'");
  p = parse_status_query("pretty=%zz");
  EXPECT_FALSE(p.query);
  EXPECT_EQ(p.error, "bad percent-encoding in query parameter 'pretty=%zz'");
}

TEST(StatusQuery, EmptyPartsAndPercentEncodingAreTaken) {
  const auto p = parse_status_query("&sessions=%73ummary&&");
  ASSERT_TRUE(p.query) << p.error;
  EXPECT_TRUE(p.query->sessions_summary);
  EXPECT_FALSE(p.query->pretty);
}

}  // namespace
}  // namespace fieldlink
