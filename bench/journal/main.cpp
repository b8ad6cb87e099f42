// bench/journal: the journal's append and drain rates, side by side with a bare SQLite loop that
// writes the same rows into the same schema in transactions of the same size. The ratio is the
// price of everything the journal adds: the lane hop, group commit, bounds, counters.
// Usage: journal_bench [--messages N] [--dir DIR]
#include <stdlib.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "store/journal.hpp"
#include "store/journal_file.hpp"

namespace fieldlink {
namespace {

using namespace std::chrono;

constexpr int kIdentities = 100;
constexpr std::size_t kBodyBytes = 200;

class StderrLogger final : public Logger {
 public:
  void log(LogLevel level, const LogFields&, std::string_view message) override {
    if (level <= LogLevel::warning) {
      std::fprintf(stderr, "bench: %.*s\n", static_cast<int>(message.size()), message.data());
    }
  }
};

struct Rig {
  std::vector<Identity> identities;
  std::shared_ptr<const std::string> body = std::make_shared<const std::string>(kBodyBytes, 'v');
  Rig() {
    for (int i = 0; i < kIdentities; ++i) {
      identities.push_back(Identity{DeviceId("device-" + std::to_string(i)), {}});
    }
  }
  Message make(std::uint64_t k) const {
    Message m;
    m.identity = identities[k % identities.size()];
    m.id = "m" + std::to_string(k);
    m.body = body;
    m.content_type = "application/json";
    m.content_encoding = "utf-8";
    m.created = system_clock::now();
    return m;
  }
};

config::StoreConfig store_config(config::SyncMode sync) {
  config::StoreConfig c;
  c.max_size = {4ull << 30};
  c.min_free = {0};
  c.max_age = hours(24);
  c.on_full = config::OnFull::drop_oldest;
  c.sync = sync;
  c.commit_interval = milliseconds(20);
  return c;
}

struct Figure {
  double rate = 0;
  double per_commit = 0;
};

// Appends `n` messages through Journal as a producer on the core loop would, keeping the intake
// below its bound, and times until the last one is reported durable.
Figure journal_append(const std::string& path, config::SyncMode sync, std::uint64_t n,
                      const Rig& rig, std::unique_ptr<Journal>* keep, boost::asio::io_context& io) {
  static SystemClock clock;  // outlives the journal, which the caller keeps for the drain
  static StderrLogger log;
  static StatvfsProbe probe;
  JournalSettings s;
  s.path = path;
  s.store = store_config(sync);
  std::string error;
  auto journal = Journal::open(s, io.get_executor(), clock, log, probe, error);
  if (!journal) {
    std::fprintf(stderr, "bench: %s\n", error.c_str());
    std::exit(1);
  }
  std::uint64_t appended = 0;
  AppendTicket durable = 0;
  bool waiting = false;
  std::function<void()> produce = [&] {
    while (appended < n && appended - durable < s.intake_limit) {
      journal->append(rig.make(appended));
      ++appended;
    }
    waiting = appended < n;
  };
  journal->on_commit([&](const CommitReport& r) {
    durable = std::max(durable, r.through);
    if (waiting) produce();
  });
  const auto start = steady_clock::now();
  produce();
  io.restart();
  while (durable < n)
    io.run_one();
  const double secs = duration<double>(steady_clock::now() - start).count();
  Figure f{static_cast<double>(n) / secs,
           static_cast<double>(n) / static_cast<double>(journal->commits_total())};
  journal->on_commit({});  // the listener refers to this function's locals
  *keep = std::move(journal);
  return f;
}

// Peeks 100 at a time for every identity at once, as sessions would, and acks what came back.
double journal_drain(Journal& journal, const Rig& rig, std::uint64_t n,
                     boost::asio::io_context& io) {
  const std::uint64_t acked_before = journal.acks_total();
  std::uint64_t outstanding = 0;
  std::function<void(const Identity&, Seq)> drain = [&](const Identity& who, Seq from) {
    ++outstanding;
    journal.peek(who, from, 100, [&, who](std::vector<StoredMessage> got) {
      --outstanding;
      if (got.empty()) return;
      journal.ack({who, got.front().seq, got.back().seq});
      drain(who, got.back().seq + 1);
    });
  };
  const auto start = steady_clock::now();
  for (const auto& who : rig.identities)
    drain(who, 0);
  io.restart();
  while (outstanding > 0 || journal.acks_total() - acked_before < n) {
    if (outstanding == 0) journal.flush();
    io.run_one();
  }
  return static_cast<double>(n) / duration<double>(steady_clock::now() - start).count();
}

// The reference: the same schema (made by JournalFile, then closed), the same rows, prepared
// statements, one transaction per `per_txn` rows. No lane, no bounds, no bookkeeping.
double bare_append(const std::string& path, config::SyncMode sync, std::uint64_t n,
                   std::size_t per_txn, const Rig& rig) {
  {
    SystemClock clock;
    StatvfsProbe probe;
    auto opened = JournalFile::open(path, store_config(sync), clock, probe);
    if (!opened.file) std::exit(1);
  }
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr);
  sqlite3_exec(
      db,
      sync == config::SyncMode::full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
      nullptr, nullptr, nullptr);
  for (std::int64_t i = 0; i < kIdentities; ++i) {
    const std::string sql = "INSERT INTO identity (id, device, module) VALUES (" +
                            std::to_string(i + 1) + ", 'device-" + std::to_string(i) + "', '')";
    sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  }
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO up (n, identity, queued_at, created, mid, content_type, "
                     "content_encoding, properties, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                     "?9)",
                     -1, &ins, nullptr);
  const auto start = steady_clock::now();
  for (std::uint64_t k = 0; k < n;) {
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (std::size_t i = 0; i < per_txn && k < n; ++i, ++k) {
      const Message m = rig.make(k);
      sqlite3_bind_int64(ins, 1, static_cast<std::int64_t>(k + 1));
      sqlite3_bind_int64(ins, 2, static_cast<std::int64_t>(k % kIdentities + 1));
      sqlite3_bind_int64(
          ins, 3, duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
      sqlite3_bind_int64(ins, 4, m.created.time_since_epoch().count());
      sqlite3_bind_text(ins, 5, m.id.data(), static_cast<int>(m.id.size()), SQLITE_STATIC);
      sqlite3_bind_text(ins, 6, m.content_type.data(), static_cast<int>(m.content_type.size()),
                        SQLITE_STATIC);
      sqlite3_bind_text(ins, 7, m.content_encoding.data(),
                        static_cast<int>(m.content_encoding.size()), SQLITE_STATIC);
      sqlite3_bind_blob(ins, 8, "", 0, SQLITE_STATIC);
      sqlite3_bind_blob(ins, 9, m.body->data(), static_cast<int>(m.body->size()), SQLITE_STATIC);
      sqlite3_step(ins);
      sqlite3_reset(ins);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  const double rate =
      static_cast<double>(n) / duration<double>(steady_clock::now() - start).count();
  sqlite3_finalize(ins);
  sqlite3_close(db);
  return rate;
}

// The reference drain: per identity, select 100 and delete them, one transaction per `per_txn`
// deletes, round-robin over identities.
double bare_drain(const std::string& path, std::uint64_t n, std::size_t per_txn) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA synchronous = NORMAL", nullptr, nullptr, nullptr);
  sqlite3_stmt* sel = nullptr;
  sqlite3_stmt* del = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT n, created, mid, content_type, content_encoding, properties, body "
                     "FROM up WHERE identity = ?1 AND n > ?2 ORDER BY n LIMIT 100",
                     -1, &sel, nullptr);
  sqlite3_prepare_v2(db, "DELETE FROM up WHERE identity = ?1 AND n BETWEEN ?2 AND ?3", -1, &del,
                     nullptr);
  std::vector<std::int64_t> cursor(kIdentities, 0);
  std::uint64_t drained = 0;
  std::size_t in_txn = 0;
  const auto start = steady_clock::now();
  sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  for (bool any = true; any;) {
    any = false;
    for (std::int64_t id = 1; id <= kIdentities; ++id) {
      sqlite3_bind_int64(sel, 1, id);
      sqlite3_bind_int64(sel, 2, cursor[static_cast<std::size_t>(id - 1)]);
      std::int64_t first = 0, last = 0;
      while (sqlite3_step(sel) == SQLITE_ROW) {
        // Read what a session would send, as Journal::peek does.
        std::string mid(reinterpret_cast<const char*>(sqlite3_column_text(sel, 2)));
        auto body = std::make_shared<const std::string>(
            static_cast<const char*>(sqlite3_column_blob(sel, 6)),
            static_cast<std::size_t>(sqlite3_column_bytes(sel, 6)));
        last = sqlite3_column_int64(sel, 0);
        if (!first) first = last;
        ++drained;
      }
      sqlite3_reset(sel);
      if (!first) continue;
      any = true;
      cursor[static_cast<std::size_t>(id - 1)] = last;
      sqlite3_bind_int64(del, 1, id);
      sqlite3_bind_int64(del, 2, first);
      sqlite3_bind_int64(del, 3, last);
      sqlite3_step(del);
      sqlite3_reset(del);
      if (++in_txn == per_txn) {
        sqlite3_exec(db, "COMMIT; BEGIN", nullptr, nullptr, nullptr);
        in_txn = 0;
      }
    }
  }
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  const double secs = duration<double>(steady_clock::now() - start).count();
  sqlite3_finalize(sel);
  sqlite3_finalize(del);
  sqlite3_close(db);
  if (drained != n)
    std::fprintf(stderr, "bench: bare drain saw %llu of %llu\n",
                 static_cast<unsigned long long>(drained), static_cast<unsigned long long>(n));
  return static_cast<double>(n) / secs;
}

void remove_db(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(path + suffix);
}

}  // namespace
}  // namespace fieldlink

int main(int argc, char** argv) {
  using namespace fieldlink;
  std::uint64_t n = 100000;
  std::string dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--messages")
      n = std::stoull(argv[i + 1]);
    else if (arg == "--dir")
      dir = argv[i + 1];
  }
  if (dir.empty()) {
    std::string pattern = "/var/tmp/fieldlink-journal-bench-XXXXXX";
    if (!::mkdtemp(pattern.data())) return 1;
    dir = pattern;
  }
  Rig rig;
  std::printf("journal bench: %llu messages, %zu-byte bodies, %d identities, in %s\n",
              static_cast<unsigned long long>(n), kBodyBytes, kIdentities, dir.c_str());
  std::printf("%-34s %14s %16s %8s\n", "", "fieldlink", "bare SQLite", "ratio");

  const std::string ours = dir + "/journal.db";
  const std::string bare = dir + "/bare.db";
  boost::asio::io_context io;
  std::unique_ptr<Journal> journal;
  double drained = 0, bare_drained = 0;
  for (auto sync : {config::SyncMode::normal, config::SyncMode::full}) {
    const bool full = sync == config::SyncMode::full;
    remove_db(ours);
    remove_db(bare);
    const Figure f = journal_append(ours, sync, n, rig, &journal, io);
    const auto per_txn = static_cast<std::size_t>(f.per_commit + 0.5);
    const double b = bare_append(bare, sync, n, per_txn, rig);
    char label[64];
    std::snprintf(label, sizeof label, "append, sync %s (%zu per commit)", full ? "full" : "normal",
                  per_txn);
    std::printf("%-34s %10.0f m/s %12.0f m/s %8.2f\n", label, f.rate, b, f.rate / b);
    if (!full) {
      // Drain what the normal run wrote; the bare drain empties its own copy.
      drained = journal_drain(*journal, rig, n, io);
      bare_drained = bare_drain(bare, n, 100);
      std::printf("%-34s %10.0f m/s %12.0f m/s %8.2f\n", "drain, peek 100 + ack (sync normal)",
                  drained, bare_drained, drained / bare_drained);
    }
    journal.reset();
  }
  remove_db(ours);
  remove_db(bare);
  std::filesystem::remove(dir);
  std::printf("ratio = fieldlink / bare SQLite (1.00 = no overhead)\n");
  return 0;
}
