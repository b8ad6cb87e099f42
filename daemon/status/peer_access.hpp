#pragma once
// Who may use the control socket: root, the daemon's own user, and members of the socket's group
// (the daemon's group; operators are added to it). The file mode (0660) already keeps others
// out; the kernel's word about the connecting process (SO_PEERCRED, SO_PEERGROUPS) is checked
// as well, because a mode is easily loosened by hand and a connection is not.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace fieldlink {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;              // primary group
  std::vector<gid_t> groups;  // supplementary groups (empty if the kernel cannot tell)
};

struct PeerPolicy {
  uid_t daemon_uid = 0;
  gid_t socket_gid = 0;
};

// Empty when the peer may go on; otherwise why not, for the log and the 403 answer.
std::string refuse_peer(const PeerCredentials& peer, const PeerPolicy& policy);

// The credentials of the process at the other end of a connected unix socket; nullopt and
// `error` when the kernel does not say.
std::optional<PeerCredentials> peer_credentials(int fd, std::string& error);

}  // namespace fieldlink
