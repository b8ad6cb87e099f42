#include "store/sqlite_db.hpp"

namespace fieldlink {

std::string SqliteStatus::to_string() const {
  return message.empty() ? std::string(sqlite3_errstr(code)) : message;
}

std::string_view SqliteStatement::text(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), column));
  return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), column)))
           : std::string_view();
}

std::string_view SqliteStatement::blob(int column) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_.get(), column));
  return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), column)))
           : std::string_view();
}

SqliteStatus SqliteDb::open(const std::string& path, SqliteDb& db, const std::string& vfs) {
  db.close();
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 vfs.empty() ? nullptr : vfs.c_str());
  std::unique_ptr<sqlite3, Close> owned(raw);  // sqlite3_open_v2 may hand back a handle on error
  if (rc != SQLITE_OK) {
    return {rc, raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)};
  }
  sqlite3_extended_result_codes(raw, 1);
  db.db_ = std::move(owned);
  return {};
}

void SqliteDb::close() {
  statements_.clear();
  db_.reset();
}

SqliteStatus SqliteDb::exec(const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err);
  SqliteStatus s{rc, err ? err : ""};
  sqlite3_free(err);
  return s;
}

SqliteStatement* SqliteDb::statement(const char* sql) {
  if (auto it = statements_.find(sql); it != statements_.end()) {
    it->second->reset();
    return it->second.get();
  }
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) !=
      SQLITE_OK) {
    sqlite3_finalize(raw);
    return nullptr;
  }
  auto& slot = statements_[sql];
  slot = std::make_unique<SqliteStatement>(raw);
  return slot.get();
}

std::int64_t SqliteDb::query_int(const char* sql, std::int64_t fallback) {
  auto* s = statement(sql);
  if (!s) return fallback;
  const std::int64_t v = s->step() == SQLITE_ROW ? s->int64(0) : fallback;
  s->reset();
  return v;
}

SqliteStatus SqliteDb::status(int code) const {
  if (code == SQLITE_OK || code == SQLITE_DONE || code == SQLITE_ROW) return {code, {}};
  return {code, db_ ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(code)};
}

}  // namespace fieldlink
