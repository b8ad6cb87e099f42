#pragma once
// How much space is left on the filesystem under a path: a seam, so the `store.min_free` bound
// can be tested without filling a real disk. Thread: any; implementations keep no shared state.
#include <cstdint>
#include <optional>
#include <string>

namespace fieldlink {

class FreeSpaceProbe {
 public:
  virtual ~FreeSpaceProbe() = default;
  // Bytes an unprivileged writer may still use on `path`'s filesystem; nullopt if unknown (the
  // journal then enforces only max_size, and says so once).
  virtual std::optional<std::uint64_t> available_bytes(const std::string& path) const = 0;
};

// The real one: statvfs(3), counting f_bavail (blocks left to non-root), as df does.
class StatvfsProbe final : public FreeSpaceProbe {
 public:
  std::optional<std::uint64_t> available_bytes(const std::string& path) const override;
};

}  // namespace fieldlink
