// The control socket's request parsing: every refusal has the HTTP status the API promises and
// says what was wrong.
#include "status/control_request.hpp"

#include "core/url_encoding.hpp"

#include <gtest/gtest.h>

namespace fieldlink {
namespace {

using namespace std::chrono_literals;

ControlRefusal refusal(std::string_view verb, std::string_view target, std::string body = "") {
  const auto p = parse_control_request(verb, target, std::move(body));
  EXPECT_FALSE(p.request) << target;
  return p.refusal;
}

TEST(ControlRequest, MethodWithPayloadAndTimeout) {
  const auto p =
      parse_control_request("POST", "/devices/boiler-3/methods/reset?timeout=7", R"({"hard":1})");
  ASSERT_TRUE(p.request) << p.refusal.error;
  EXPECT_EQ(p.request->kind, ControlRequest::Kind::method);
  EXPECT_EQ(p.request->device_id, "boiler-3");
  EXPECT_EQ(p.request->module_id, "");
  EXPECT_EQ(p.request->name, "reset");
  EXPECT_EQ(p.request->payload, R"({"hard":1})");
  EXPECT_EQ(p.request->timeout, 7000ms);
}

TEST(ControlRequest, EmptyMethodBodyIsNullAndTimeoutTakesUnits) {
  const auto p = parse_control_request("POST", "/devices/gw/methods/ping?timeout=1500ms", " \n");
  ASSERT_TRUE(p.request) << p.refusal.error;
  EXPECT_EQ(p.request->payload, "null");
  EXPECT_EQ(p.request->timeout, 1500ms);
  EXPECT_FALSE(parse_control_request("POST", "/devices/gw/methods/ping", "").request->timeout);
}

TEST(ControlRequest, ModuleIdentityTravelsEncoded) {
  const auto p = parse_control_request("POST", "/devices/edge-1%2Fsensor%20a/methods/x%2Fy", "{}");
  ASSERT_TRUE(p.request) << p.refusal.error;
  EXPECT_EQ(p.request->device_id, "edge-1");
  EXPECT_EQ(p.request->module_id, "sensor a");
  EXPECT_EQ(p.request->name, "x/y");
}

TEST(ControlRequest, C2dKeepsTheBodyAsSentAndRepeatedProperties) {
  const auto p = parse_control_request(
      "POST", "/devices/plant-s3/c2d?property=color%3Dblue&property=note=a%3Db%20c", "{not json");
  ASSERT_TRUE(p.request) << p.refusal.error;
  EXPECT_EQ(p.request->kind, ControlRequest::Kind::c2d);
  EXPECT_EQ(p.request->payload, "{not json");  // a C2D body is any bytes
  using P = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(p.request->properties, (P{{"color", "blue"}, {"note", "a=b c"}}));
}

TEST(ControlRequest, BadJsonIs400WithTheParserError) {
  const auto r = refusal("POST", "/devices/boiler-3/methods/reset", "{\"a\":");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.error.find("the payload is not JSON"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("parse error at line 1, column 6"), std::string::npos) << r.error;
}

TEST(ControlRequest, UnknownPathsAre404AndOtherVerbs405) {
  EXPECT_EQ(refusal("POST", "/status").status, 404);
  EXPECT_EQ(refusal("POST", "/devices/a/methods").status, 404);
  EXPECT_EQ(refusal("POST", "/devices/a/c2d/extra").status, 404);
  EXPECT_EQ(refusal("POST", "devices/a/c2d").status, 404);
  const auto r = refusal("GET", "/devices/a/c2d");
  EXPECT_EQ(r.status, 405);
  EXPECT_NE(r.error.find("only POST"), std::string::npos);
}

TEST(ControlRequest, MalformedIdentitiesAndQueriesAre400) {
  EXPECT_EQ(refusal("POST", "/devices//c2d").status, 400);
  EXPECT_EQ(refusal("POST", "/devices/a%2F/c2d").status, 400);
  EXPECT_EQ(refusal("POST", "/devices/a%2Fb%2Fc/c2d").status, 400);
  EXPECT_EQ(refusal("POST", "/devices/a%zz/c2d").status, 400);
  EXPECT_EQ(refusal("POST", "/devices/a%2/c2d").status, 400);
  EXPECT_EQ(refusal("POST", "/devices/a/c2d?property=novalue").status, 400);
  EXPECT_EQ(refusal("POST", "/devices/a/c2d?property==v").status, 400);
  EXPECT_EQ(refusal("POST", "/devices/a/c2d?timeout=5").status, 400);
  EXPECT_EQ(refusal("POST", "/devices/a/methods/m?property=a=b").status, 400);
  EXPECT_EQ(refusal("POST", "/devices/a/methods/m?timeout=soon").status, 400);
  EXPECT_EQ(refusal("POST", "/devices/a/methods/m?timeout=0").status, 400);
  const auto r = refusal("POST", "/devices/a/methods/m?timeout=301");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.error.find("outside 1s .. 300s"), std::string::npos) << r.error;
}

TEST(ControlRequest, PercentDecoding) {
  EXPECT_EQ(percent_decode("a%2Fb%20c+d"), "a/b c+d");
  EXPECT_EQ(percent_decode("%e2%82%ac"), "\xe2\x82\xac");
  EXPECT_FALSE(percent_decode("%"));
  EXPECT_FALSE(percent_decode("%4"));
  EXPECT_FALSE(percent_decode("%g0"));
}

}  // namespace
}  // namespace fieldlink
