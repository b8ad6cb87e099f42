#include "secret_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace fieldlink::ctl {
namespace {

namespace fs = std::filesystem;

std::string errno_text() {
  return std::strerror(errno);
}

void sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::string write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    const auto n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_text();
    }
    content.remove_prefix(static_cast<size_t>(n));
  }
  return ::fsync(fd) == 0 ? std::string() : errno_text();
}

// `fieldlinkctl` usually runs as root, but the daemon (user fieldlink) must read what it writes:
// a new file takes the owner and group of the folder the package made for it. Done on the temp
// file, so the name never appears with the wrong owner.
std::string take_owner_of_dir(int fd, const std::string& dir) {
  struct stat d {};
  struct stat f {};
  if (::stat(dir.c_str(), &d) != 0 || ::fstat(fd, &f) != 0) return errno_text();
  if (f.st_uid == d.st_uid && f.st_gid == d.st_gid) return {};
  if (::fchown(fd, d.st_uid, d.st_gid) != 0) {
    return "cannot give it the owner of " + dir + " (uid " + std::to_string(d.st_uid) + ", gid " +
           std::to_string(d.st_gid) + "): " + errno_text();
  }
  return {};
}

}  // namespace

std::string ensure_dir(const std::string& dir, mode_t mode) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return {};
  const auto parent = fs::path(dir).parent_path();
  if (!parent.empty() && parent != fs::path(dir)) {
    if (auto why = ensure_dir(parent.string(), 0755); !why.empty()) return why;
  }
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return "cannot create " + dir + ": " + errno_text();
  }
  // mkdir applies the umask; a keys folder must end up exactly as private as asked.
  if (::chmod(dir.c_str(), mode) != 0) return "cannot set the mode of " + dir + ": " + errno_text();
  return {};
}

std::string write_temp_file(const std::string& dir, const std::string& stem,
                            std::string_view content, mode_t mode, std::string& error) {
  std::string temp = (fs::path(dir) / ("." + stem + ".tmp-XXXXXX")).string();
  // mkstemp creates the file 0600 whatever the umask; the mode is narrowed or widened below
  // before any content is written.
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) {
    error = "cannot create a file in " + dir + ": " + errno_text();
    return {};
  }
  std::string why;
  if (::fchmod(fd, mode) != 0) why = errno_text();
  if (why.empty()) why = take_owner_of_dir(fd, dir);
  if (why.empty()) why = write_all(fd, content);
  ::close(fd);
  if (!why.empty()) {
    ::unlink(temp.c_str());
    error = "cannot write " + temp + ": " + why;
    return {};
  }
  return temp;
}

std::string commit_temp_file(const std::string& temp, const std::string& path) {
  // link() rather than rename(): it refuses to replace a file that appeared meanwhile.
  if (::link(temp.c_str(), path.c_str()) != 0) {
    const auto why = errno == EEXIST ? std::string("it already exists") : errno_text();
    ::unlink(temp.c_str());
    return "cannot create " + path + ": " + why;
  }
  ::unlink(temp.c_str());
  sync_dir(fs::path(path).parent_path().string());
  return {};
}

std::string write_new_file(const std::string& path, std::string_view content, mode_t mode) {
  std::string error;
  const auto dir = fs::path(path).parent_path().string();
  const auto temp = write_temp_file(dir, fs::path(path).filename().string(), content, mode, error);
  if (temp.empty()) return error;
  return commit_temp_file(temp, path);
}

}  // namespace fieldlink::ctl
