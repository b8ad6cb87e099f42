#include "daemon_endpoint.hpp"

#include <gtest/gtest.h>

namespace fieldlink::ctl {
namespace {

config::ListenAddress listen(const char* text) {
  return *config::parse_listen(text).value;
}

TEST(DaemonEndpoint, UrlFromStatusListen) {
  std::string error;
  EXPECT_EQ(url_from_listen(listen("127.0.0.1:8086"), error), "http://127.0.0.1:8086");
  EXPECT_EQ(url_from_listen(listen("[::1]:9000"), error), "http://[::1]:9000");
  EXPECT_EQ(url_from_listen(listen("unix:/run/fieldlink/status.sock"), error),
            "unix:/run/fieldlink/status.sock");
  EXPECT_EQ(error, "");
}

TEST(DaemonEndpoint, PortZeroCannotBeFoundFromTheConfig) {
  std::string error;
  EXPECT_EQ(url_from_listen(listen("127.0.0.1:0"), error), "");
  EXPECT_NE(error.find("pass --url"), std::string::npos);
}

TEST(DaemonEndpoint, RefusedMeansNotRunning) {
  const auto text = unreachable_message("http://127.0.0.1:8086", "Connection refused");
  EXPECT_EQ(text.rfind("fieldlinkd is not running: cannot reach fieldlinkd at "
                       "http://127.0.0.1:8086: Connection refused\n",
                       0),
            0u);
  EXPECT_NE(text.find("systemctl start fieldlinkd"), std::string::npos);
  EXPECT_EQ(
      unreachable_message("unix:/x", "Operation timed out").rfind("fieldlinkd does not answer", 0),
      0u);
}

}  // namespace
}  // namespace fieldlink::ctl
