#pragma once
// Serialises identity edits of one config folder: two `identity add` run at once would each check
// against a config without the other's binding and could both commit the same source. An
// exclusive flock on the config folder itself (no lock file left behind), held for the edit.
#include <string>

namespace fieldlink::ctl {

class EditLock {
 public:
  // Blocks until the lock is held; `error` is set (and nothing held) when the folder cannot be
  // opened or locked.
  EditLock(const std::string& folder, std::string& error);
  ~EditLock();
  EditLock(const EditLock&) = delete;
  EditLock& operator=(const EditLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace fieldlink::ctl
