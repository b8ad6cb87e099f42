// Who may use the control socket, and that the kernel's credentials of a real connection are read.
#include "status/peer_access.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace fieldlink {
namespace {

const PeerPolicy kPolicy{/*daemon_uid=*/990, /*socket_gid=*/985};

TEST(PeerAccess, RootTheDaemonsUserAndTheSocketsGroupMayConnect) {
  EXPECT_EQ(refuse_peer({1, 0, 0, {}}, kPolicy), "");
  EXPECT_EQ(refuse_peer({1, 990, 990, {}}, kPolicy), "");
  EXPECT_EQ(refuse_peer({1, 1000, 985, {}}, kPolicy), "");          // primary group
  EXPECT_EQ(refuse_peer({1, 1000, 1000, {27, 985}}, kPolicy), "");  // supplementary group
}

TEST(PeerAccess, AnyoneElseIsRefusedWithTheReason) {
  const auto why = refuse_peer({4242, 1000, 1000, {27, 100}}, kPolicy);
  EXPECT_EQ(why, "uid 1000 (pid 4242) is not root, not the daemon's user and not in group 985");
}

TEST(PeerAccess, ReadsTheCredentialsOfAConnectedPeer) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  std::string error;
  const auto peer = peer_credentials(fds[0], error);
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_TRUE(peer) << error;
  EXPECT_EQ(peer->pid, ::getpid());
  EXPECT_EQ(peer->uid, ::geteuid());
  EXPECT_EQ(peer->gid, ::getegid());
}

TEST(PeerAccess, ANonSocketHasNoCredentials) {
  const int fd = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string error;
  EXPECT_FALSE(peer_credentials(fd, error));
  ::close(fd);
  EXPECT_NE(error.find("SO_PEERCRED"), std::string::npos);
}

}  // namespace
}  // namespace fieldlink
