#include "store/free_space_probe.hpp"

#include <sys/statvfs.h>

namespace fieldlink {

std::optional<std::uint64_t> StatvfsProbe::available_bytes(const std::string& path) const {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(st.f_bavail) * static_cast<std::uint64_t>(st.f_frsize);
}

}  // namespace fieldlink
