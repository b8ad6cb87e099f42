#include "status/peer_access.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace fieldlink {

std::string refuse_peer(const PeerCredentials& peer, const PeerPolicy& policy) {
  if (peer.uid == 0 || peer.uid == policy.daemon_uid) return {};
  if (peer.gid == policy.socket_gid) return {};
  if (std::find(peer.groups.begin(), peer.groups.end(), policy.socket_gid) != peer.groups.end()) {
    return {};
  }
  return "uid " + std::to_string(peer.uid) + " (pid " + std::to_string(peer.pid) +
         ") is not root, not the daemon's user and not in group " +
         std::to_string(policy.socket_gid);
}

std::optional<PeerCredentials> peer_credentials(int fd, std::string& error) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    error = std::string("SO_PEERCRED: ") + std::strerror(errno);
    return std::nullopt;
  }
  PeerCredentials peer{cred.pid, cred.uid, cred.gid, {}};
#ifdef SO_PEERGROUPS
  // Sized by a first call that fails with ERANGE and says how much room the list needs.
  socklen_t size = 0;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, nullptr, &size) != 0 && errno == ERANGE &&
      size > 0) {
    peer.groups.resize(size / sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, peer.groups.data(), &size) == 0) {
      peer.groups.resize(size / sizeof(gid_t));
    } else {
      peer.groups.clear();
    }
  }
#endif
  return peer;
}

}  // namespace fieldlink
