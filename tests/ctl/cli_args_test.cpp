#include "cli_args.hpp"

#include <gtest/gtest.h>

namespace fieldlink::ctl {
namespace {

const std::vector<OptionSpec> kSpec{{"--url", true}, {"--json", false}, {"--module-id", true}};

TEST(CliArgs, ValuesFlagsAndPositionals) {
  const auto r = parse_args({"dev-1", "--url", "unix:/x", "--json", "--module-id=m"}, kSpec);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.args.positional, std::vector<std::string>{"dev-1"});
  EXPECT_EQ(r.args.value("--url"), "unix:/x");
  EXPECT_EQ(r.args.value("--module-id"), "m");
  EXPECT_TRUE(r.args.has("--json"));
  EXPECT_FALSE(r.args.has("--nope"));
}

TEST(CliArgs, UnknownOptionIsAnError) {
  EXPECT_EQ(parse_args({"--jsn"}, kSpec).error, "unknown option '--jsn'");
}

TEST(CliArgs, MissingValueIsAnError) {
  EXPECT_EQ(parse_args({"--url"}, kSpec).error, "option '--url' needs a value");
}

TEST(CliArgs, RepeatedOptionIsAnError) {
  EXPECT_EQ(parse_args({"--url", "a", "--url=b"}, kSpec).error, "option '--url' is given twice");
}

TEST(CliArgs, FlagWithValueIsAnError) {
  EXPECT_EQ(parse_args({"--json=yes"}, kSpec).error, "option '--json' takes no value");
}

TEST(CliArgs, DoubleDashEndsOptions) {
  const auto r = parse_args({"--", "--json"}, kSpec);
  ASSERT_EQ(r.error, "");
  EXPECT_FALSE(r.args.has("--json"));
  EXPECT_EQ(r.args.positional, std::vector<std::string>{"--json"});
}

}  // namespace
}  // namespace fieldlink::ctl
