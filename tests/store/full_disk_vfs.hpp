#pragma once
// A filesystem that fills up, for SQLite: a VFS that forwards to the default one but gives each
// write that grows a file only as many bytes as are still "free", answering SQLITE_FULL (what
// SQLite reports for ENOSPC) beyond that; truncation and deletion give bytes back. Overwriting
// bytes a file already has always works, as on a real full disk.
// It can also make the database files open so far read garbage (a disk rotting under a running
// journal). Thread: install once per process; the state is atomic.
#include <cstdint>

namespace fieldlink::testing_support {

class FullDiskVfs {
 public:
  static constexpr const char* kName = "fieldlink-full-disk";
  static constexpr std::int64_t kUnlimited = INT64_MAX / 2;

  // Registers the VFS (not as the default) on first use.
  static void install();
  static void set_free_bytes(std::int64_t bytes);
  static std::int64_t free_bytes();
  static std::uint64_t refused_writes();
  // From now on, reads of every database file opened so far return garbage, as if the disk had
  // rotted under them; files opened later read normally.
  static void rot_open_databases();
};

}  // namespace fieldlink::testing_support
