#pragma once
// The thin seam over SQLite's C API: one connection and its cached prepared statements, owned
// through unique_ptr deleters so no path leaks a handle. Nothing here throws; every call returns
// the SQLite result code, and `status` turns one into a value with SQLite's own message.
// Thread: a connection is used by one thread at a time (the journal lane).
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace fieldlink {

// A SQLite outcome as a value: the primary result code and the connection's message.
struct SqliteStatus {
  int code = SQLITE_OK;
  std::string message;

  bool ok() const { return code == SQLITE_OK || code == SQLITE_DONE || code == SQLITE_ROW; }
  // The disk (or max_page_count) is full: make room or refuse, then carry on.
  bool full() const { return (code & 0xff) == SQLITE_FULL; }
  // The file is not a database we can trust: move it aside and start a new one.
  bool corrupt() const {
    const int primary = code & 0xff;
    return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
  }
  std::string to_string() const;
};

// A prepared statement with its bindings. `SQLITE_STATIC` bindings point into the caller's
// buffers, which must outlive the next `step` (so bodies are written without a copy).
class SqliteStatement {
 public:
  explicit SqliteStatement(sqlite3_stmt* stmt) : stmt_(stmt) {}

  void bind(int index, std::int64_t value) { sqlite3_bind_int64(stmt_.get(), index, value); }
  void bind_text(int index, std::string_view value) {
    sqlite3_bind_text(stmt_.get(), index, value.data(), static_cast<int>(value.size()),
                      SQLITE_STATIC);
  }
  void bind_blob(int index, std::string_view value) {
    // A zero-length blob must still be a blob, not NULL: pass a valid pointer.
    sqlite3_bind_blob(stmt_.get(), index, value.empty() ? "" : value.data(),
                      static_cast<int>(value.size()), SQLITE_STATIC);
  }
  int step() { return sqlite3_step(stmt_.get()); }
  // Clears the bindings too, so no dangling SQLITE_STATIC pointer survives the call.
  void reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
  }

  std::int64_t int64(int column) const { return sqlite3_column_int64(stmt_.get(), column); }
  std::string_view text(int column) const;
  std::string_view blob(int column) const;

 private:
  struct Finalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
};

class SqliteDb {
 public:
  // Opens (creating if absent) a read-write connection through the named VFS (empty: SQLite's
  // default; tests name one that injects I/O faults). On failure `db` stays closed.
  static SqliteStatus open(const std::string& path, SqliteDb& db, const std::string& vfs = {});

  bool is_open() const { return db_ != nullptr; }
  void close();  // finalizes the cached statements first, as sqlite3_close requires

  // Runs one or more statements without results.
  SqliteStatus exec(const char* sql);
  // The cached statement for `sql` (a string literal: the pointer is the key), reset and ready.
  // nullptr if it does not prepare; `last_status` says why.
  SqliteStatement* statement(const char* sql);
  // A single-integer query such as `PRAGMA page_count`; `fallback` if it fails.
  std::int64_t query_int(const char* sql, std::int64_t fallback = -1);

  SqliteStatus status(int code) const;
  SqliteStatus last_status() const { return status(sqlite3_errcode(db_.get())); }
  bool in_transaction() const { return db_ && !sqlite3_get_autocommit(db_.get()); }
  sqlite3* handle() { return db_.get(); }

 private:
  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unordered_map<const char*, std::unique_ptr<SqliteStatement>> statements_;
  std::unique_ptr<sqlite3, Close> db_;
};

}  // namespace fieldlink
