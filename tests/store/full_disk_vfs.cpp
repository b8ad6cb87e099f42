#include "full_disk_vfs.hpp"

#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <filesystem>

namespace fieldlink::testing_support {
namespace {

std::atomic<std::int64_t> g_free{FullDiskVfs::kUnlimited};
std::atomic<std::uint64_t> g_refused{0};
std::atomic<std::uint64_t> g_opened{0};     // files opened so far; numbers them
std::atomic<std::uint64_t> g_rot_below{0};  // main databases numbered below this read garbage
sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs;
sqlite3_io_methods g_methods;

// Our file: the real VFS's file object follows it in the same allocation.
struct ShimFile {
  sqlite3_file base;
  sqlite3_file* real;
  std::uint64_t number;
  bool main_db;
};

sqlite3_file* real(sqlite3_file* f) {
  return reinterpret_cast<ShimFile*>(f)->real;
}
const sqlite3_io_methods* rm(sqlite3_file* f) {
  return real(f)->pMethods;
}

int x_close(sqlite3_file* f) {
  return rm(f)->xClose(real(f));
}
int x_read(sqlite3_file* f, void* buf, int amt, sqlite3_int64 off) {
  const int rc = rm(f)->xRead(real(f), buf, amt, off);
  const auto* shim = reinterpret_cast<ShimFile*>(f);
  if (rc == SQLITE_OK && shim->main_db && shim->number < g_rot_below.load()) {
    std::memset(buf, 0xa5, static_cast<std::size_t>(amt));
  }
  return rc;
}
int x_write(sqlite3_file* f, const void* buf, int amt, sqlite3_int64 off) {
  sqlite3_int64 size = 0;
  if (int rc = rm(f)->xFileSize(real(f), &size); rc != SQLITE_OK) return rc;
  const sqlite3_int64 growth = off + amt - size;
  if (growth > 0) {
    if (g_free.fetch_sub(growth) < growth) {
      g_free.fetch_add(growth);
      ++g_refused;
      return SQLITE_FULL;
    }
  }
  return rm(f)->xWrite(real(f), buf, amt, off);
}
int x_truncate(sqlite3_file* f, sqlite3_int64 to) {
  sqlite3_int64 size = 0;
  rm(f)->xFileSize(real(f), &size);
  const int rc = rm(f)->xTruncate(real(f), to);
  if (rc == SQLITE_OK && to < size) g_free.fetch_add(size - to);
  return rc;
}
int x_sync(sqlite3_file* f, int flags) {
  return rm(f)->xSync(real(f), flags);
}
int x_file_size(sqlite3_file* f, sqlite3_int64* out) {
  return rm(f)->xFileSize(real(f), out);
}
int x_lock(sqlite3_file* f, int l) {
  return rm(f)->xLock(real(f), l);
}
int x_unlock(sqlite3_file* f, int l) {
  return rm(f)->xUnlock(real(f), l);
}
int x_check_reserved(sqlite3_file* f, int* out) {
  return rm(f)->xCheckReservedLock(real(f), out);
}
int x_file_control(sqlite3_file* f, int op, void* arg) {
  if (op != SQLITE_FCNTL_SIZE_HINT) return rm(f)->xFileControl(real(f), op, arg);
  // Preallocation takes space like a write does (rounded up to a chunk: allow for one).
  sqlite3_int64 before = 0, after = 0;
  rm(f)->xFileSize(real(f), &before);
  const sqlite3_int64 need = *static_cast<sqlite3_int64*>(arg) - before + 64 * 1024;
  if (need > 0 && g_free.load() < need) {
    ++g_refused;
    return SQLITE_FULL;
  }
  const int rc = rm(f)->xFileControl(real(f), op, arg);
  rm(f)->xFileSize(real(f), &after);
  if (after > before) g_free.fetch_sub(after - before);
  return rc;
}
int x_sector_size(sqlite3_file* f) {
  return rm(f)->xSectorSize(real(f));
}
int x_device(sqlite3_file* f) {
  return rm(f)->xDeviceCharacteristics(real(f));
}
int x_shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return rm(f)->xShmMap(real(f), page, size, extend, out);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return rm(f)->xShmLock(real(f), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) {
  rm(f)->xShmBarrier(real(f));
}
int x_shm_unmap(sqlite3_file* f, int del) {
  return rm(f)->xShmUnmap(real(f), del);
}
int x_fetch(sqlite3_file* f, sqlite3_int64 off, int amt, void** out) {
  return rm(f)->xFetch(real(f), off, amt, out);
}
int x_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return rm(f)->xUnfetch(real(f), off, p);
}

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  auto* shim = reinterpret_cast<ShimFile*>(f);
  shim->real = reinterpret_cast<sqlite3_file*>(shim + 1);
  shim->number = g_opened++;
  shim->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  const int rc = g_real->xOpen(g_real, name, shim->real, flags, out_flags);
  shim->base.pMethods = shim->real->pMethods ? &g_methods : nullptr;
  return rc;
}

int x_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(name, ec);
  const int rc = g_real->xDelete(g_real, name, sync_dir);
  if (rc == SQLITE_OK && !ec) g_free.fetch_add(static_cast<std::int64_t>(size));
  return rc;
}

}  // namespace

void FullDiskVfs::install() {
  if (g_real) return;
  g_real = sqlite3_vfs_find(nullptr);
  g_vfs = *g_real;
  g_vfs.pNext = nullptr;
  g_vfs.zName = kName;
  g_vfs.szOsFile = static_cast<int>(sizeof(ShimFile)) + g_real->szOsFile;
  g_vfs.xOpen = x_open;
  g_vfs.xDelete = x_delete;
  g_methods = sqlite3_io_methods{3,           x_close,          x_read,         x_write,
                                 x_truncate,  x_sync,           x_file_size,    x_lock,
                                 x_unlock,    x_check_reserved, x_file_control, x_sector_size,
                                 x_device,    x_shm_map,        x_shm_lock,     x_shm_barrier,
                                 x_shm_unmap, x_fetch,          x_unfetch};
  sqlite3_vfs_register(&g_vfs, 0);
}

void FullDiskVfs::set_free_bytes(std::int64_t bytes) {
  g_free = bytes;
}
std::int64_t FullDiskVfs::free_bytes() {
  return g_free;
}
std::uint64_t FullDiskVfs::refused_writes() {
  return g_refused;
}
void FullDiskVfs::rot_open_databases() {
  g_rot_below = g_opened.load();
}

}  // namespace fieldlink::testing_support
