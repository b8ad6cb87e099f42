#include "edit_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fieldlink::ctl {

EditLock::EditLock(const std::string& folder, std::string& error) {
  fd_ = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0) {
    error = "cannot open " + folder + ": " + std::strerror(errno);
    return;
  }
  int rc = 0;
  while ((rc = ::flock(fd_, LOCK_EX)) != 0 && errno == EINTR) {
  }
  if (rc != 0) {
    error = "cannot lock " + folder + ": " + std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
  }
}

EditLock::~EditLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

}  // namespace fieldlink::ctl
