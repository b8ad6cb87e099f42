#include "store/journal_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <set>

namespace fieldlink {
namespace {

using namespace std::chrono;

// Forward-only: entry i takes a file from user_version i to i + 1. Never edit a shipped entry;
// append a new one (and a test that opens a file of the previous version).
constexpr const char* kMigrations[] = {
    // 1: telemetry (`up`), its identities, the downlink queue and the sequence high-water mark.
    R"sql(
CREATE TABLE identity (
  id INTEGER PRIMARY KEY,
  device TEXT NOT NULL,
  module TEXT NOT NULL,
  UNIQUE (device, module)
);
CREATE TABLE up (
  n INTEGER PRIMARY KEY,            -- the Seq: append order, never reused
  identity INTEGER NOT NULL,
  queued_at INTEGER NOT NULL,       -- journal wall clock, ms since the epoch; drives max_age
  created INTEGER NOT NULL,         -- sample time as appended, system_clock ticks
  mid TEXT NOT NULL,
  content_type TEXT NOT NULL,
  content_encoding TEXT NOT NULL,
  properties BLOB NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX up_by_identity ON up (identity, n);
CREATE TABLE down (
  id INTEGER PRIMARY KEY,
  target TEXT NOT NULL,
  kind INTEGER NOT NULL,
  name TEXT NOT NULL,
  payload BLOB NOT NULL,
  properties BLOB NOT NULL,
  request_id TEXT NOT NULL,
  queued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql",
};
constexpr int kMigrationCount = static_cast<int>(std::size(kMigrations));
static_assert(kMigrationCount == JournalFile::kSchemaVersion);

constexpr const char* kInsertUp =
    "INSERT INTO up (n, identity, queued_at, created, mid, content_type, content_encoding, "
    "properties, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
constexpr const char* kAck = "DELETE FROM up WHERE identity = ?1 AND n BETWEEN ?2 AND ?3";
constexpr const char* kEvict =
    "DELETE FROM up WHERE n IN (SELECT n FROM up WHERE n < ?1 ORDER BY n LIMIT ?2) "
    "RETURNING identity";
constexpr const char* kOldestBelow = "SELECT n, identity FROM up WHERE n < ?1 ORDER BY n";
constexpr const char* kEvictOne = "DELETE FROM up WHERE n = ?1";
constexpr const char* kPeek =
    "SELECT n, created, mid, content_type, content_encoding, properties, body FROM up "
    "WHERE identity = ?1 AND n >= ?2 ORDER BY n LIMIT ?3";
constexpr const char* kOldest = "SELECT queued_at FROM up WHERE identity = ?1 ORDER BY n LIMIT 1";
constexpr const char* kSaveNextSeq =
    "INSERT INTO meta (key, value) VALUES ('next_seq', ?1) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value";

// Wire form of application properties: (u32 length, bytes) for each key and value in turn.
void encode_properties(const Properties& props, std::string& out) {
  out.clear();
  auto put = [&out](std::string_view s) {
    const auto n = static_cast<std::uint32_t>(s.size());
    char len[4];
    std::memcpy(len, &n, 4);
    out.append(len, 4);
    out.append(s);
  };
  for (const auto& [k, v] : props) {
    put(k);
    put(v);
  }
}

Properties decode_properties(std::string_view in) {
  Properties props;
  auto take = [&in](std::string& s) {
    std::uint32_t n = 0;
    if (in.size() < 4) return false;
    std::memcpy(&n, in.data(), 4);
    in.remove_prefix(4);
    if (in.size() < n) return false;
    s.assign(in.substr(0, n));
    in.remove_prefix(n);
    return true;
  };
  while (!in.empty()) {
    std::pair<std::string, std::string> kv;
    if (!take(kv.first) || !take(kv.second)) break;
    props.push_back(std::move(kv));
  }
  return props;
}

std::string utc_stamp(system_clock::time_point t) {
  const std::time_t secs = system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::uint64_t size_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Renames the database and its WAL to `<path>.corrupt-<stamp>[-wal]`; the shared-memory index
// is only a cache and is removed. Returns the new name, or empty with `error` set.
std::string move_aside(const std::string& path, system_clock::time_point now, std::string& error) {
  std::string target = path + ".corrupt-" + utc_stamp(now);
  for (int i = 1; exists(target); ++i) {
    target = path + ".corrupt-" + utc_stamp(now) + "-" + std::to_string(i);
  }
  if (::rename(path.c_str(), target.c_str()) != 0 && errno != ENOENT) {
    error = "cannot move " + path + " aside: " + std::strerror(errno);
    return {};
  }
  ::rename((path + "-wal").c_str(), (target + "-wal").c_str());
  ::unlink((path + "-shm").c_str());
  return target;
}

}  // namespace

struct JournalFile::Attempt {
  Seq next_seq = 0;
  std::uint64_t pre_evict = 0;  // evict this many oldest rows first (after a failed attempt)
  bool refuse_all = false;      // last resort: apply acks, refuse every append
  DropReason space_reason = DropReason::max_size;
  std::map<std::int64_t, std::int64_t> depth_delta;   // identity id → change in depth
  std::map<std::int64_t, std::int64_t> first_queued;  // identity id → queued_at of first insert
  std::set<std::int64_t> shrunk;                      // identities that lost rows
  std::map<std::pair<std::int64_t, DropReason>, std::uint64_t> drops;
  std::vector<AppendTicket> refused;
  std::set<std::int64_t> fresh;
  std::uint64_t appended = 0;
  std::uint64_t acked = 0;
  std::uint64_t evicted = 0;
};

JournalFile::JournalFile(std::string path, const config::StoreConfig& limits, const Clock& clock,
                         const FreeSpaceProbe& probe)
    : path_(std::move(path)), limits_(limits), clock_(clock), probe_(probe) {}

JournalFile::~JournalFile() {
  close_files();
}

void JournalFile::close_files() {
  db_.close();
  if (reserve_fd_ >= 0) ::close(reserve_fd_);  // after SQLite's: see setup()
  reserve_fd_ = -1;
}

JournalFile::Opened JournalFile::open(std::string path, const config::StoreConfig& limits,
                                      const Clock& clock, const FreeSpaceProbe& probe,
                                      std::string vfs) {
  Opened out;
  std::unique_ptr<JournalFile> file(new JournalFile(std::move(path), limits, clock, probe));
  file->vfs_ = std::move(vfs);
  SqliteStatus st = file->setup();
  if (!st.ok() && st.corrupt()) {
    file->close_files();
    std::string error;
    out.moved_aside = move_aside(file->path_, clock.wall_now(), error);
    if (out.moved_aside.empty()) {
      out.error = error;
      return out;
    }
    st = file->setup();
  }
  if (!st.ok()) {
    out.error = "cannot open journal " + file->path_ + ": " + st.to_string();
    return out;
  }
  out.file = std::move(file);
  return out;
}

SqliteStatus JournalFile::setup() {
  identities_.clear();
  by_id_.clear();
  held_.clear();  // ids are the new file's from here on
  followed_.clear();
  followed_unknown_.clear();
  if (auto st = SqliteDb::open(path_, db_, vfs_); !st.ok()) return st;
  // auto_vacuum must be chosen before the first table exists; on an existing file it is a no-op.
  if (auto st = db_.exec("PRAGMA auto_vacuum = INCREMENTAL"); !st.ok()) return st;
  // Only this connection ever opens the file while the daemon runs. In exclusive mode, set before
  // WAL is entered, SQLite keeps the WAL index in the heap and takes its locks once, instead of
  // several fcntl(2) lock calls per transaction (about one per reading under load); and a second
  // daemon started on the same state_dir by mistake gets "database is locked" instead of
  // interleaving its writes with ours.
  if (auto st = db_.exec("PRAGMA locking_mode = EXCLUSIVE"); !st.ok()) return st;
  if (auto st = db_.exec("PRAGMA journal_mode = WAL"); !st.ok()) return st;
  // WAL + NORMAL survives a process crash; FULL also fsyncs each commit, surviving power loss.
  const char* sync = limits_.sync == config::SyncMode::full ? "PRAGMA synchronous = FULL"
                                                            : "PRAGMA synchronous = NORMAL";
  if (auto st = db_.exec(sync); !st.ok()) return st;
  // A drain reads each identity's rows in order, and rows of many identities share a page (rows
  // are laid out in arrival order): with SQLite's default 2 MiB cache the pages of 100 identities'
  // read-ahead fell out of the cache before the next identity came to them, and every peek read
  // them again. 8 MiB (2,048 pages of 4 KiB) holds the read-ahead of 100 identities; it is taken
  // only while a backlog is read, and bounded. No mmap: a read error on a worn SD card would then
  // be a SIGBUS crash (and a crash loop on restart) instead of an error the journal recovers from.
  if (auto st = db_.exec("PRAGMA cache_size = -8192"); !st.ok()) return st;
  {
    // quick_check reads every page once: a file that fails it is moved aside now, at start,
    // instead of failing halfway through a drain.
    auto* check = db_.statement("PRAGMA quick_check");
    if (!check) return db_.last_status();
    const int rc = check->step();
    if (rc != SQLITE_ROW) return db_.status(rc);
    std::string verdict(check->text(0));
    check->reset();
    if (verdict != "ok") return {SQLITE_CORRUPT, "quick_check: " + verdict};
  }
  if (auto st = migrate(); !st.ok()) return st;

  page_size_ = db_.query_int("PRAGMA page_size", 4096);
  const std::int64_t budget = static_cast<std::int64_t>(limits_.max_size.bytes) / page_size_;
  // The WAL counts against max_size too: checkpoint often enough that it stays a small part.
  wal_pages_ = std::clamp<std::int64_t>(budget / 8, 16, 1000);
  const std::string wal =
      "PRAGMA wal_autocheckpoint = " + std::to_string(wal_pages_) +
      "; PRAGMA journal_size_limit = " + std::to_string((wal_pages_ + 96) * (page_size_ + 24));
  if (auto st = db_.exec(wal.c_str()); !st.ok()) return st;
  if (vfs_.empty()) {
    // Our own descriptor for fallocate(2) in reserve_ahead(). It stays open until SQLite's is
    // closed: closing any descriptor of a file drops the process's POSIX locks on it.
    reserve_fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
  } else {
    // An injected VFS sees reservations as SQLite's own size hints, which need a chunk size.
    int chunk = kChunkBytes;
    sqlite3_file_control(db_.handle(), "main", SQLITE_FCNTL_CHUNK_SIZE, &chunk);
  }
  return load_state();
}

SqliteStatus JournalFile::migrate() {
  const std::int64_t version = db_.query_int("PRAGMA user_version", -1);
  if (version < 0) return db_.last_status();
  if (version > kSchemaVersion) {
    // Written by a newer fieldlink: we cannot know its meaning, and must not crash-loop on it.
    return {SQLITE_NOTADB, "schema version " + std::to_string(version) +
                               " is newer than this build's " + std::to_string(kSchemaVersion)};
  }
  for (std::int64_t v = version; v < kSchemaVersion; ++v) {
    const std::string sql = std::string("BEGIN IMMEDIATE;") + kMigrations[v] +
                            "PRAGMA user_version = " + std::to_string(v + 1) + "; COMMIT;";
    if (auto st = db_.exec(sql.c_str()); !st.ok()) {
      if (db_.in_transaction()) db_.exec("ROLLBACK");
      return st;
    }
  }
  return {};
}

SqliteStatus JournalFile::load_state() {
  auto* ids = db_.statement("SELECT id, device, module FROM identity");
  if (!ids) return db_.last_status();
  int rc;
  while ((rc = ids->step()) == SQLITE_ROW) {
    Identity identity{DeviceId(std::string(ids->text(1))), ModuleId(std::string(ids->text(2)))};
    identities_[identity].id = ids->int64(0);
    by_id_.emplace(ids->int64(0), std::move(identity));
  }
  ids->reset();
  if (rc != SQLITE_DONE) return db_.status(rc);

  auto* depth =
      db_.statement("SELECT identity, count(*), min(queued_at) FROM up GROUP BY identity");
  if (!depth) return db_.last_status();
  while ((rc = depth->step()) == SQLITE_ROW) {
    if (const Identity* who = identity_by_id(depth->int64(0))) {
      auto& state = identities_[*who];
      state.depth = static_cast<std::uint64_t>(depth->int64(1));
      state.oldest_ms = depth->int64(2);
    }
  }
  depth->reset();
  if (rc != SQLITE_DONE) return db_.status(rc);

  const std::int64_t saved = db_.query_int("SELECT value FROM meta WHERE key = 'next_seq'", 1);
  const std::int64_t max_n = db_.query_int("SELECT coalesce(max(n), 0) FROM up", 0);
  next_seq_ = static_cast<Seq>(std::max<std::int64_t>(saved, max_n + 1));
  last_queued_ms_ = db_.query_int("SELECT coalesce(max(queued_at), 0) FROM up", 0);
  return {};
}

const Identity* JournalFile::identity_by_id(std::int64_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

std::int64_t JournalFile::now_ms() {
  // Never backwards: expiry walks the table in append order and stops at the first young row.
  const auto wall = duration_cast<milliseconds>(clock_.wall_now().time_since_epoch()).count();
  last_queued_ms_ = std::max<std::int64_t>(last_queued_ms_, wall);
  return last_queued_ms_;
}

SqliteStatus JournalFile::ensure_identities(const Batch& batch) {
  std::vector<const Identity*> missing;
  for (const auto& a : batch.appends) {
    if (!identities_.count(a.message.identity)) missing.push_back(&a.message.identity);
  }
  if (missing.empty()) return {};
  // Committed on their own: a batch attempt that rolls back must not leave the map pointing at
  // identity rows that do not exist. Rare: once per identity for the life of the file.
  if (auto st = db_.exec("BEGIN IMMEDIATE"); !st.ok()) return st;
  for (const Identity* who : missing) {
    if (identities_.count(*who)) continue;
    auto* ins = db_.statement(
        "INSERT INTO identity (device, module) VALUES (?1, ?2) "
        "ON CONFLICT (device, module) DO UPDATE SET device = excluded.device RETURNING id");
    if (!ins) {
      db_.exec("ROLLBACK");
      return db_.last_status();
    }
    ins->bind_text(1, who->device.str());
    ins->bind_text(2, who->module.str());
    const int rc = ins->step();
    if (rc != SQLITE_ROW) {
      auto st = db_.status(rc);
      ins->reset();
      if (db_.in_transaction()) db_.exec("ROLLBACK");
      return st;
    }
    const std::int64_t id = ins->int64(0);
    ins->step();
    ins->reset();
    identities_[*who].id = id;
    by_id_.emplace(id, *who);
  }
  if (auto st = db_.exec("COMMIT"); !st.ok()) {
    if (db_.in_transaction()) db_.exec("ROLLBACK");
    // Forget them all; the next commit tries again.
    for (const Identity* who : missing) {
      if (auto it = identities_.find(*who); it != identities_.end()) {
        by_id_.erase(it->second.id);
        identities_.erase(it);
      }
    }
    return st;
  }
  for (const Identity* who : missing) {
    if (const auto f = followed_unknown_.find(*who); f != followed_unknown_.end()) {
      followed_[identities_.at(*who).id] = f->second;
      followed_unknown_.erase(f);
    }
  }
  return {};
}

JournalFile::Bound JournalFile::apply_space_limit() {
  const std::int64_t reserve = wal_pages_ + 96;  // the WAL's share of the bound
  std::int64_t limit = std::max<std::int64_t>(
      16, static_cast<std::int64_t>(limits_.max_size.bytes) / page_size_ - reserve);
  Bound bound = Bound::max_size;
  if (auto avail = probe_.available_bytes(directory_of(path_))) {
    const std::uint64_t keep = limits_.min_free.bytes + static_cast<std::uint64_t>(reserve) *
                                                            static_cast<std::uint64_t>(page_size_);
    const std::int64_t spare =
        *avail > keep ? static_cast<std::int64_t>((*avail - keep) / page_size_) : 0;
    const std::int64_t fs_limit = db_.query_int("PRAGMA page_count", 0) + spare;
    if (fs_limit < limit) {
      limit = fs_limit;
      bound = Bound::min_free;
    }
  }
  if (disk_full_) {
    // The filesystem is full: live inside the space the file already owns (see reserve_ahead).
    const auto owned = static_cast<std::int64_t>(size_of(path_)) / page_size_;
    if (owned < limit) {
      limit = owned;
      bound = Bound::min_free;
    }
  }
  // SQLite refuses to grow the file past this and answers SQLITE_FULL, which commit() turns into
  // evictions or refusals. (It never shrinks the limit below the current size.)
  const std::string sql = "PRAGMA max_page_count = " + std::to_string(limit);
  db_.exec(sql.c_str());
  limit_pages_ = db_.query_int("PRAGMA max_page_count", limit);
  return bound;
}

SqliteStatus JournalFile::evict_oldest(std::uint64_t rows, Seq below, DropReason reason,
                                       Attempt& attempt) {
  auto evicted = [&attempt, reason](std::int64_t id) {
    ++attempt.drops[{id, reason}];
    ++attempt.evicted;
    --attempt.depth_delta[id];
    attempt.shrunk.insert(id);
  };
  if (held_.empty() && followed_.empty()) {
    auto* del = db_.statement(kEvict);
    if (!del) return db_.last_status();
    del->bind(1, below);
    del->bind(2, static_cast<std::int64_t>(rows));
    int rc;
    while ((rc = del->step()) == SQLITE_ROW)
      evicted(del->int64(0));
    del->reset();
    return db_.status(rc);
  }
  // Rows the upstream holds are being sent: one of them counted as dropped could still reach the
  // hub, and the drop counter would no longer say what is missing there. The oldest rows nobody
  // holds go instead.
  std::vector<std::pair<Seq, std::int64_t>> victims;
  auto* scan = db_.statement(kOldestBelow);
  if (!scan) return db_.last_status();
  scan->bind(1, below);
  int rc = SQLITE_DONE;
  while (victims.size() < rows && (rc = scan->step()) == SQLITE_ROW) {
    const Seq n = scan->int64(0);
    const std::int64_t id = scan->int64(1);
    if (holds(id, n)) continue;
    victims.emplace_back(n, id);
  }
  scan->reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_.status(rc);
  for (const auto& [n, id] : victims) {
    auto* del = db_.statement(kEvictOne);
    if (!del) return db_.last_status();
    del->bind(1, n);
    rc = del->step();
    del->reset();
    if (rc != SQLITE_DONE) return db_.status(rc);
    evicted(id);
  }
  return {};
}

SqliteStatus JournalFile::try_commit(Batch& batch, Attempt& a, std::uint64_t pre_evict) {
  if (auto st = db_.exec("BEGIN IMMEDIATE"); !st.ok()) return st;
  const Seq first_new = a.next_seq;
  for (const auto* list : {&batch.acks, &batch.rejects}) {
    const bool rejecting = list == &batch.rejects;
    for (const auto& ack : *list) {
      auto it = identities_.find(ack.identity);
      if (it == identities_.end()) continue;
      auto* del = db_.statement(kAck);
      if (!del) return db_.last_status();
      del->bind(1, it->second.id);
      del->bind(2, static_cast<std::int64_t>(ack.first));
      del->bind(3, static_cast<std::int64_t>(ack.last));
      const int rc = del->step();
      del->reset();
      if (rc != SQLITE_DONE) return db_.status(rc);
      const auto n = static_cast<std::int64_t>(sqlite3_changes(db_.handle()));
      if (n <= 0) continue;
      if (rejecting) {
        a.drops[{it->second.id, DropReason::rejected}] += static_cast<std::uint64_t>(n);
      } else {
        a.acked += static_cast<std::uint64_t>(n);
      }
      a.depth_delta[it->second.id] -= n;
      a.shrunk.insert(it->second.id);
    }
  }
  // After the acks: a row the hub has acknowledged in this batch is never counted as dropped.
  if (pre_evict > 0) {
    if (limits_.on_full == config::OnFull::drop_oldest) {
      if (auto st = evict_oldest(pre_evict, first_new, a.space_reason, a); !st.ok()) return st;
    } else {
      a.refuse_all = true;
    }
  }

  const std::int64_t queued = now_ms();
  std::string props;
  bool space_left = !a.refuse_all;
  for (std::size_t i = 0; i < batch.appends.size(); ++i) {
    const auto& append = batch.appends[i];
    const Message& m = append.message;
    const std::int64_t id = identities_.at(m.identity).id;
    bool stored = false;
    for (int tries = 0; space_left && !stored; ++tries) {
      auto* ins = db_.statement(kInsertUp);
      if (!ins) return db_.last_status();
      encode_properties(m.properties, props);
      ins->bind(1, a.next_seq);
      ins->bind(2, id);
      ins->bind(3, queued);
      ins->bind(4, static_cast<std::int64_t>(m.created.time_since_epoch().count()));
      ins->bind_text(5, m.id);
      ins->bind_text(6, m.content_type);
      ins->bind_text(7, m.content_encoding);
      ins->bind_blob(8, props);
      ins->bind_blob(9, m.body ? std::string_view(*m.body) : std::string_view());
      const int rc = ins->step();
      ins->reset();
      if (rc == SQLITE_DONE) {
        stored = true;
        break;
      }
      const SqliteStatus st = db_.status(rc);
      if (!st.full() || !db_.in_transaction()) return st;
      if (below_own_limit()) {
        a.space_reason = DropReason::min_free;
        disk_full_ = true;
      }
      // Full (max_size, min_free, or the disk itself): make room from the oldest rows that were
      // committed before this batch, or refuse the newcomers.
      if (limits_.on_full == config::OnFull::reject_new || tries >= 8) {
        space_left = false;
        break;
      }
      const std::uint64_t evicted_before = a.evicted;
      const auto remaining = static_cast<std::uint64_t>(batch.appends.size() - i);
      if (auto ev = evict_oldest(std::max<std::uint64_t>(32, 2 * remaining), first_new,
                                 a.space_reason, a);
          !ev.ok()) {
        return ev;
      }
      if (a.evicted == evicted_before) space_left = false;  // nothing older left to evict
    }
    if (stored) {
      ++a.appended;
      a.depth_delta[id] += 1;
      a.first_queued.emplace(id, queued);
      a.fresh.insert(id);
      ++a.next_seq;
    } else {
      a.refused.push_back(append.ticket);
      ++a.drops[{id, a.space_reason}];
    }
  }

  auto* save = db_.statement(kSaveNextSeq);
  if (!save) return db_.last_status();
  save->bind(1, a.next_seq);
  const int rc = save->step();
  save->reset();
  if (rc != SQLITE_DONE) return db_.status(rc);
  return db_.exec("COMMIT");
}

SqliteStatus JournalFile::refresh_oldest(IdentityState& state) {
  auto* q = db_.statement(kOldest);
  if (!q) return db_.last_status();
  q->bind(1, state.id);
  const int rc = q->step();
  state.oldest_ms = rc == SQLITE_ROW ? q->int64(0) : 0;
  q->reset();
  return db_.status(rc);
}

void JournalFile::finish(Attempt& a, CommitReport& report) {
  report.first_seq = next_seq_;
  next_seq_ = a.next_seq;
  report.appended += a.appended;
  report.acked += a.acked;
  report.refused.insert(report.refused.end(), a.refused.begin(), a.refused.end());
  std::set<std::int64_t> touched;
  for (const auto& [id, delta] : a.depth_delta) {
    const Identity* who = identity_by_id(id);
    if (!who) continue;
    auto& state = identities_[*who];
    const bool was_empty = state.depth == 0;
    state.depth = static_cast<std::uint64_t>(static_cast<std::int64_t>(state.depth) + delta);
    if (was_empty && a.first_queued.count(id)) state.oldest_ms = a.first_queued[id];
    touched.insert(id);
  }
  for (std::int64_t id : a.shrunk) {
    const Identity* who = identity_by_id(id);
    if (!who) continue;
    auto& state = identities_[*who];
    if (state.depth == 0) {
      state.oldest_ms = 0;
    } else {
      refresh_oldest(state);
    }
    touched.insert(id);
  }
  for (std::int64_t id : touched) {
    const Identity* who = identity_by_id(id);
    if (!who) continue;
    const auto& state = identities_[*who];
    report.depths.push_back(
        {*who, state.depth, system_clock::time_point(milliseconds(state.oldest_ms))});
  }
  for (std::int64_t id : a.fresh) {
    if (const Identity* who = identity_by_id(id)) report.fresh.push_back(*who);
  }
  for (const auto& [key, count] : a.drops) {
    if (const Identity* who = identity_by_id(key.first)) {
      report.drops.push_back({*who, key.second, count});
    }
  }
}

bool JournalFile::recover_if_corrupt(const SqliteStatus& status, CommitReport& report) {
  if (!status.corrupt()) return false;
  close_files();
  std::string error;
  report.moved_aside = move_aside(path_, clock_.wall_now(), error);
  if (report.moved_aside.empty()) {
    report.error = error;
    return false;
  }
  const auto st = setup();
  if (!st.ok()) report.error = "new journal after moving the corrupt one aside: " + st.to_string();
  return st.ok();
}

CommitReport JournalFile::commit(Batch& batch) {
  const auto started = steady_clock::now();
  CommitReport report;
  for (const auto& a : batch.appends)
    report.through = std::max(report.through, a.ticket);
  if (batch.empty()) return report;

  SqliteStatus st;
  std::uint64_t pre_evict = 0;
  bool recovered = false;
  // The filesystem refused space before: if it gives the reserve now, the disk has room again.
  if (disk_full_ && reserve_ahead()) disk_full_ = false;
  for (int attempt_no = 0; attempt_no < 5; ++attempt_no) {
    st = ensure_identities(batch);
    if (st.ok()) {
      const Bound bound = apply_space_limit();
      Attempt a;
      a.next_seq = next_seq_;
      a.space_reason =
          bound == Bound::min_free || disk_full_ ? DropReason::min_free : DropReason::max_size;
      // The last try keeps only the acks: a batch that does not fit is refused, not retried
      // forever.
      a.refuse_all = attempt_no == 4;
      st = try_commit(batch, a, pre_evict);
      if (st.ok()) {
        finish(a, report);
        if (!reserve_ahead()) disk_full_ = true;
        break;
      }
    }
    // Below our own page limit, SQLITE_FULL means the filesystem itself is full. (Asked before
    // the rollback; our limit only ever fails a statement, never the whole transaction.)
    if (st.full() && below_own_limit()) disk_full_ = true;
    if (db_.in_transaction()) db_.exec("ROLLBACK");
    if (st.full()) {
      // The transaction as a whole did not fit (SQLite rolled it back, or the WAL could not
      // grow): checkpoint so the next transaction rewrites the WAL from its start, in blocks the
      // WAL already owns (truncating would hand them to whoever fills the disk), and evict
      // before inserting next time.
      db_.exec("PRAGMA wal_checkpoint(RESTART)");
      pre_evict = std::max<std::uint64_t>({64, pre_evict * 2, batch.appends.size()});
      continue;
    }
    if (!recovered && recover_if_corrupt(st, report)) {
      recovered = true;
      continue;
    }
    break;
  }
  if (!st.ok()) {
    report.ok = false;
    report.error = report.error.empty() ? st.to_string() : report.error;
    report.refused.clear();
    for (const auto& a : batch.appends) {
      report.refused.push_back(a.ticket);
      report.drops.push_back({a.message.identity, DropReason::write_failed, 1});
    }
  }
  report.file_bytes = file_bytes();
  report.commit_time = steady_clock::now() - started;
  return report;
}

CommitReport JournalFile::maintain() {
  const auto started = steady_clock::now();
  CommitReport report;
  const std::int64_t now =
      duration_cast<milliseconds>(clock_.wall_now().time_since_epoch()).count();
  SqliteStatus st;

  if (limits_.max_age.count() > 0) {
    // Rows are in queued_at order (now_ms never goes back), so the expired ones are a prefix.
    const std::int64_t cutoff = now - limits_.max_age.count();
    auto* scan = db_.statement("SELECT n, queued_at FROM up ORDER BY n LIMIT 10000");
    Seq last_expired = 0;
    int rc = SQLITE_DONE;
    if (scan) {
      while ((rc = scan->step()) == SQLITE_ROW && scan->int64(1) < cutoff) {
        last_expired = scan->int64(0);
      }
      scan->reset();
    }
    if (last_expired > 0 && db_.exec("BEGIN IMMEDIATE").ok()) {
      Attempt a;
      a.next_seq = next_seq_;
      st = evict_oldest(10000, last_expired + 1, DropReason::expired, a);
      if (st.ok()) st = db_.exec("COMMIT");
      if (st.ok()) {
        finish(a, report);
      } else if (db_.in_transaction()) {
        db_.exec("ROLLBACK");
      }
    }
  }

  // A write transaction only when something expired: this runs every second, and an idle
  // journal should not touch the disk (SD cards wear).
  auto* any_expired = db_.statement("SELECT 1 FROM down WHERE expires_at <= ?1 LIMIT 1");
  bool downlink_due = false;
  if (any_expired) {
    any_expired->bind(1, now);
    downlink_due = any_expired->step() == SQLITE_ROW;
    any_expired->reset();
  }
  if (downlink_due && db_.exec("BEGIN IMMEDIATE").ok()) {
    auto* del = db_.statement("DELETE FROM down WHERE expires_at <= ?1 RETURNING target");
    std::map<std::string, std::uint64_t> expired;
    int rc = SQLITE_ERROR;
    if (del) {
      del->bind(1, now);
      while ((rc = del->step()) == SQLITE_ROW)
        ++expired[std::string(del->text(0))];
      del->reset();
    }
    if (rc == SQLITE_DONE && db_.exec("COMMIT").ok()) {
      report.downlink_expired.assign(expired.begin(), expired.end());
    } else if (db_.in_transaction()) {
      db_.exec("ROLLBACK");
    }
  }

  // Give space back when much of the file is free (after a drain), keeping some for reuse so the
  // next backlog does not have to grow the file page by page.
  const std::int64_t pages = db_.query_int("PRAGMA page_count", 0);
  const std::int64_t free_pages = db_.query_int("PRAGMA freelist_count", 0);
  if (free_pages > std::max<std::int64_t>(256, pages / 4)) {
    const std::string sql =
        "PRAGMA incremental_vacuum(" + std::to_string(free_pages - pages / 8) + ")";
    db_.exec(sql.c_str());
  }
  if (!st.ok()) {
    report.ok = false;
    report.error = st.to_string();
    recover_if_corrupt(st, report);
  }
  report.file_bytes = file_bytes();
  report.commit_time = steady_clock::now() - started;
  return report;
}

std::vector<StoredMessage> JournalFile::peek(const Identity& identity, Seq from, std::size_t max) {
  std::vector<StoredMessage> out;
  auto it = identities_.find(identity);
  if (it == identities_.end() || it->second.depth == 0 || max == 0) return out;
  auto* q = db_.statement(kPeek);
  if (!q) return out;
  q->bind(1, it->second.id);
  q->bind(2, static_cast<std::int64_t>(from));
  q->bind(3, static_cast<std::int64_t>(max));
  out.reserve(std::min<std::size_t>(max, it->second.depth));
  while (q->step() == SQLITE_ROW) {
    StoredMessage s;
    s.seq = q->int64(0);
    s.message.identity = identity;
    s.message.created = system_clock::time_point(system_clock::duration(q->int64(1)));
    s.message.id = q->text(2);
    s.message.content_type = q->text(3);
    s.message.content_encoding = q->text(4);
    s.message.properties = decode_properties(q->blob(5));
    const auto body = q->blob(6);
    s.message.body = std::make_shared<const std::string>(body);
    out.push_back(std::move(s));
  }
  q->reset();
  if (!out.empty()) {
    auto& held = held_[it->second.id];
    held = std::max(held, out.back().seq);
  }
  return out;
}

bool JournalFile::holds(std::int64_t id, Seq n) const {
  if (const auto h = held_.find(id); h != held_.end() && n <= h->second) return true;
  const auto f = followed_.find(id);
  return f != followed_.end() && n >= f->second;
}

void JournalFile::follow(const Identity& identity, Seq from) {
  const auto it = identities_.find(identity);
  if (it == identities_.end()) {
    followed_unknown_[identity] = from;  // takes effect with the id its first append gets
    return;
  }
  if (from > 0) {
    auto& held = held_[it->second.id];
    held = std::max(held, from - 1);
  }
  followed_[it->second.id] = from;
}

void JournalFile::unfollow(const Identity& identity, Seq held_through) {
  followed_unknown_.erase(identity);
  const auto it = identities_.find(identity);
  if (it == identities_.end()) return;
  followed_.erase(it->second.id);
  if (held_through == 0) return;  // holds nothing: no entry (an empty held_ evicts in bulk)
  auto& held = held_[it->second.id];
  held = std::max(held, held_through);
}

void JournalFile::release(const Identity& identity) {
  followed_unknown_.erase(identity);
  if (const auto it = identities_.find(identity); it != identities_.end()) {
    held_.erase(it->second.id);
    followed_.erase(it->second.id);
  }
}

std::vector<IdentityDepth> JournalFile::depths() const {
  std::vector<IdentityDepth> out;
  for (const auto& [who, state] : identities_) {
    if (state.depth == 0) continue;
    out.push_back({who, state.depth, system_clock::time_point(milliseconds(state.oldest_ms))});
  }
  return out;
}

std::uint64_t JournalFile::file_bytes() {
  const auto pages = static_cast<std::uint64_t>(db_.query_int("PRAGMA page_count", 0));
  const std::uint64_t logical = pages * static_cast<std::uint64_t>(page_size_);
  return std::max(logical, size_of(path_)) + size_of(path_ + "-wal");
}

// Keeps the database file allocated a WAL's worth of pages ahead of its contents (within the
// space limit), so a checkpoint never has to grow it. On a disk that fills up, the WAL can then
// always be checkpointed and rewritten, and the journal carries on inside the space it owns,
// evicting the oldest. False if the filesystem refused the space.
// Well below our own page limit, SQLITE_FULL means the filesystem itself is full. (One insert can
// need several new pages at once — b-tree splits in the table and its index — hence the margin.)
bool JournalFile::below_own_limit() {
  return db_.query_int("PRAGMA page_count", 0) + 16 < limit_pages_;
}

bool JournalFile::reserve_ahead() {
  const std::int64_t pages = db_.query_int("PRAGMA page_count", 0);
  const std::int64_t cap = std::max(limit_pages_, pages);
  // Extend in big steps, only once less than half a WAL's worth is left: extending costs about
  // as much whether it is 40 pages or 500, and a commit adds some tens.
  const auto enough =
      static_cast<std::uint64_t>(std::min(pages + wal_pages_ / 2, cap) * page_size_);
  if (size_of(path_) >= enough) return true;
  const std::int64_t target = std::min(pages + wal_pages_, cap);
  const auto want = static_cast<std::uint64_t>(target * page_size_);
  if (vfs_.empty()) {
    // Blocks allocated, nothing written. (SQLite's own size hint would write a byte into every
    // block: Debian's libsqlite3 is built without posix_fallocate, doubling the writes of every
    // new page — wear an SD card does not need.)
    if (reserve_fd_ < 0) return true;
    if (::fallocate(reserve_fd_, 0, 0, static_cast<off_t>(want)) == 0) return true;
    return errno != ENOSPC && errno != EDQUOT;  // unsupported here: no reserve, not a full disk
  }
  sqlite3_int64 bytes = static_cast<sqlite3_int64>(want);
  const int rc = sqlite3_file_control(db_.handle(), "main", SQLITE_FCNTL_SIZE_HINT, &bytes);
  return rc == SQLITE_OK && size_of(path_) >= want;
}

std::int64_t JournalFile::put_command(const Command& command, system_clock::time_point expires,
                                      std::string& error) {
  auto* ins = db_.statement(
      "INSERT INTO down (target, kind, name, payload, properties, request_id, queued_at, "
      "expires_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?7)");
  if (!ins) {
    error = db_.last_status().to_string();
    return 0;
  }
  std::string props;
  encode_properties(command.properties, props);
  ins->bind_text(1, command.target.str());
  ins->bind(2, static_cast<std::int64_t>(command.kind));
  ins->bind_text(3, command.name);
  ins->bind_blob(4, command.payload);
  ins->bind_blob(5, props);
  ins->bind_text(6, command.request_id);
  ins->bind(7, duration_cast<milliseconds>(clock_.wall_now().time_since_epoch()).count());
  ins->bind(8, duration_cast<milliseconds>(expires.time_since_epoch()).count());
  const int rc = ins->step();
  ins->reset();
  if (rc != SQLITE_DONE) {
    const auto st = db_.status(rc);
    error = st.to_string();
    CommitReport ignored;
    recover_if_corrupt(st, ignored);
    return 0;
  }
  return sqlite3_last_insert_rowid(db_.handle());
}

std::vector<QueuedCommand> JournalFile::due_commands(std::size_t max) {
  std::vector<QueuedCommand> out;
  auto* q = db_.statement(
      "SELECT id, target, kind, name, payload, properties, request_id, expires_at, attempts "
      "FROM down WHERE next_attempt_at <= ?1 AND expires_at > ?1 ORDER BY id LIMIT ?2");
  if (!q) return out;
  const auto wall = clock_.wall_now();
  const auto steady = clock_.now();
  q->bind(1, duration_cast<milliseconds>(wall.time_since_epoch()).count());
  q->bind(2, static_cast<std::int64_t>(max));
  while (q->step() == SQLITE_ROW) {
    auto target = SourceAddress::parse(q->text(1));
    if (!target) continue;
    const auto expires = system_clock::time_point(milliseconds(q->int64(7)));
    out.push_back(QueuedCommand{
        .id = q->int64(0),
        .command =
            Command{.kind = static_cast<Command::Kind>(q->int64(2)),
                    .target = std::move(*target),
                    .name = std::string(q->text(3)),
                    .payload = std::string(q->blob(4)),
                    .properties = decode_properties(q->blob(5)),
                    .request_id = std::string(q->text(6)),
                    .deadline = steady + duration_cast<steady_clock::duration>(expires - wall)},
        .expires = expires,
        .attempts = static_cast<std::uint32_t>(q->int64(8))});
  }
  q->reset();
  return out;
}

bool JournalFile::command_attempted(std::int64_t id, system_clock::time_point retry_at) {
  auto* q =
      db_.statement("UPDATE down SET attempts = attempts + 1, next_attempt_at = ?2 WHERE id = ?1");
  if (!q) return false;
  q->bind(1, id);
  q->bind(2, duration_cast<milliseconds>(retry_at.time_since_epoch()).count());
  const int rc = q->step();
  q->reset();
  return rc == SQLITE_DONE && sqlite3_changes(db_.handle()) == 1;
}

bool JournalFile::command_done(std::int64_t id) {
  auto* q = db_.statement("DELETE FROM down WHERE id = ?1");
  if (!q) return false;
  q->bind(1, id);
  const int rc = q->step();
  q->reset();
  return rc == SQLITE_DONE && sqlite3_changes(db_.handle()) == 1;
}

std::uint64_t JournalFile::command_count() {
  return static_cast<std::uint64_t>(db_.query_int("SELECT count(*) FROM down", 0));
}

}  // namespace fieldlink
