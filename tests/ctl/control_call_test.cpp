// fieldlinkctl's side of the control socket: the paths it posts and how it reads answers.
#include "control_call.hpp"

#include <gtest/gtest.h>

#include "cli_args.hpp"
#include "status/control_request.hpp"

namespace fieldlink::ctl {
namespace {

TEST(ControlCall, PathsEncodeIdentityMethodAndProperties) {
  EXPECT_EQ(invoke_path("boiler-3", "reset", std::nullopt), "/devices/boiler-3/methods/reset");
  EXPECT_EQ(invoke_path("edge/mod 1", "set", 12),
            "/devices/edge%2Fmod%201/methods/set?timeout=12s");
  EXPECT_EQ(c2d_path("plant-s3", {"color=blue", "a=b&c"}),
            "/devices/plant-s3/c2d?property=color%3Dblue&property=a%3Db%26c");
}

// What fieldlinkctl posts is what the daemon reads back.
TEST(ControlCall, TheDaemonParsesWhatTheToolSends) {
  const auto m = parse_control_request("POST", invoke_path("edge/mod 1", "set?x", 12), "[1]");
  ASSERT_TRUE(m.request) << m.refusal.error;
  EXPECT_EQ(m.request->device_id, "edge");
  EXPECT_EQ(m.request->module_id, "mod 1");
  EXPECT_EQ(m.request->name, "set?x");
  EXPECT_EQ(m.request->timeout, std::chrono::seconds(12));
  const auto c = parse_control_request("POST", c2d_path("d", {"k=v=w", "sp ace=%"}), "x");
  ASSERT_TRUE(c.request) << c.refusal.error;
  using P = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(c.request->properties, (P{{"k", "v=w"}, {"sp ace", "%"}}));
}

TEST(ControlCall, PropertiesMustBeKeyEqualsValue) {
  EXPECT_EQ(check_property("k=v"), "");
  EXPECT_EQ(check_property("k="), "");
  EXPECT_NE(check_property("kv"), "");
  EXPECT_NE(check_property("=v"), "");
}

TEST(ControlCall, ReadsAnswersAndDescribesErrors) {
  auto a = read_answer(504, R"({"status":504,"payload":{"error":"the device did not answer"}})");
  EXPECT_EQ(a.status, 504);
  EXPECT_EQ(describe_answer(a), "status 504: the device did not answer");
  a = read_answer(502, R"({"status":1000,"payload":{"code":7}})");
  EXPECT_EQ(a.status, 1000);  // the device's own status, not the HTTP one
  EXPECT_EQ(describe_answer(a), R"(status 1000: {"code":7})");
  a = read_answer(200, "ok\n");
  EXPECT_NE(a.error, "");
  EXPECT_NE(describe_answer(a).find("is that fieldlinkd?"), std::string::npos);
}

TEST(ControlCall, OffAndUnreachableSayWhatToDo) {
  EXPECT_FALSE(control_url(config::ControlListen{}));
  EXPECT_EQ(control_url(config::ControlListen{"/run/x.sock"}), "unix:/run/x.sock");
  EXPECT_EQ(control_off_message("/etc/f.yaml").rfind("control.listen is not set in /etc/f.yaml", 0),
            0u);
  EXPECT_NE(control_unreachable_message("unix:/run/x.sock", "Permission denied")
                .find("join the socket's group (ls -l /run/x.sock)"),
            std::string::npos);
  EXPECT_NE(control_unreachable_message("unix:/run/x.sock", "No such file or directory")
                .find("is fieldlinkd running"),
            std::string::npos);
}

TEST(ControlCall, PropertyRepeatsOtherOptionsDoNot) {
  const std::vector<OptionSpec> spec{{"--property", true, true}, {"--json", false}};
  const auto r = parse_args({"d", "--property", "a=1", "--property=b=2", "x"}, spec);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.args.all("--property"), (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_EQ(r.args.positional, (std::vector<std::string>{"d", "x"}));
  EXPECT_TRUE(r.args.has("--property"));
  EXPECT_EQ(parse_args({"--json", "--json"}, spec).error, "option '--json' is given twice");
}

}  // namespace
}  // namespace fieldlink::ctl
