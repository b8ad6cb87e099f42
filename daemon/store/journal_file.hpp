#pragma once
// The journal's SQLite file: schema and migrations, the telemetry and downlink tables, the bounds
// (max_size, min_free, max_age) and recovery from a corrupt file. Every call blocks on disk.
// Thread: one thread at a time — in the daemon, the journal's lane (see Journal); tests and tools
// call it directly. Errors are values: nothing here throws; a corrupt file is moved aside and a new
// one started, and the report says so.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "store/free_space_probe.hpp"
#include "store/journal_records.hpp"
#include "store/sqlite_db.hpp"

namespace fieldlink {

class JournalFile {
 public:
  struct Append {
    AppendTicket ticket = 0;
    Message message;
  };
  // One group commit's work: acks and rejects are applied first (they free room for the
  // appends). A reject deletes like an ack but counts a drop (DropReason::rejected).
  struct Batch {
    std::vector<Append> appends;
    std::vector<AckRange> acks;
    std::vector<AckRange> rejects;
    bool empty() const { return appends.empty() && acks.empty() && rejects.empty(); }
  };
  struct Opened {
    std::unique_ptr<JournalFile> file;  // null on failure
    std::string error;                  // why it could not be opened (permissions, I/O)
    std::string moved_aside;            // a corrupt file that was moved aside on the way
  };

  static constexpr int kSchemaVersion = 1;
  static constexpr int kChunkBytes = 64 * 1024;  // growth step under an injected VFS

  // Opens or creates `path`. A file that is not a readable journal (corrupt, not a database, a
  // newer schema) is renamed to `<path>.corrupt-<UTC time>` and a new one created.
  // `vfs`: SQLite VFS to use, empty for the default (tests inject a filesystem that fills up).
  static Opened open(std::string path, const config::StoreConfig& limits, const Clock& clock,
                     const FreeSpaceProbe& probe, std::string vfs = {});
  ~JournalFile();

  // Writes the batch in one transaction and enforces the space bounds; see CommitReport.
  CommitReport commit(Batch& batch);
  // Expires old telemetry and downlink commands, and gives surplus free pages back to the
  // filesystem. Cheap when there is nothing to do; the Journal runs it about once a second.
  CommitReport maintain();
  // The oldest messages of `identity` with seq >= from, in order; at most `max`. The caller now
  // holds every message of `identity` up to the last one returned: eviction for space and expiry
  // skip held messages (they may be on their way to the hub, and a message counted as dropped
  // must never arrive there) until they are acknowledged or `release`d.
  std::vector<StoredMessage> peek(const Identity& identity, Seq from, std::size_t max);
  // The caller holds every message of `identity` below `from` and follows the ones from `from` on
  // as they are committed (the Journal hands them out from memory, never reading them back):
  // none of them is evicted until `unfollow` or `release`.
  void follow(const Identity& identity, Seq from);
  // The caller stops following; it still holds every message up to `held_through`.
  void unfollow(const Identity& identity, Seq held_through);
  // The caller holds none of `identity`'s messages any more (its session went offline).
  void release(const Identity& identity);
  // Depth and oldest per identity, for every identity with messages.
  std::vector<IdentityDepth> depths() const;

  // Downlink: a command is durable when this returns an id (> 0); 0 and `error` otherwise.
  std::int64_t put_command(const Command& command, std::chrono::system_clock::time_point expires,
                           std::string& error);
  // Commands whose next attempt is due, oldest first.
  std::vector<QueuedCommand> due_commands(std::size_t max);
  // The device was unreachable: try again at `retry_at`.
  bool command_attempted(std::int64_t id, std::chrono::system_clock::time_point retry_at);
  // Delivered (or refused by the device for good): delete it.
  bool command_done(std::int64_t id);
  std::uint64_t command_count();

  std::uint64_t file_bytes();
  const std::string& path() const { return path_; }
  SqliteDb& db() { return db_; }  // for tests and the benchmark's reference loop

 private:
  struct IdentityState {
    std::int64_t id = 0;
    std::uint64_t depth = 0;
    std::int64_t oldest_ms = 0;
  };
  // What one attempt at a commit changed; applied to the in-memory state only if it commits.
  struct Attempt;
  enum class Bound { none, max_size, min_free };

  JournalFile(std::string path, const config::StoreConfig& limits, const Clock& clock,
              const FreeSpaceProbe& probe);
  SqliteStatus setup();
  SqliteStatus migrate();
  SqliteStatus load_state();
  SqliteStatus ensure_identities(const Batch& batch);
  Bound apply_space_limit();
  bool holds(std::int64_t id, Seq n) const;
  SqliteStatus try_commit(Batch& batch, Attempt& attempt, std::uint64_t pre_evict);
  SqliteStatus evict_oldest(std::uint64_t rows, Seq below, DropReason reason, Attempt& attempt);
  SqliteStatus refresh_oldest(IdentityState& state);
  void finish(Attempt& attempt, CommitReport& report);
  bool reserve_ahead();
  void close_files();
  bool below_own_limit();
  bool recover_if_corrupt(const SqliteStatus& status, CommitReport& report);
  std::int64_t now_ms();
  const Identity* identity_by_id(std::int64_t id) const;

  std::string path_;
  std::string vfs_;
  config::StoreConfig limits_;
  const Clock& clock_;
  const FreeSpaceProbe& probe_;
  SqliteDb db_;
  int reserve_fd_ = -1;  // the database file, for fallocate(2); closed after db_
  std::int64_t page_size_ = 4096;
  std::int64_t wal_pages_ = 1000;
  std::int64_t limit_pages_ = 0;  // max_page_count as last applied
  bool disk_full_ = false;        // the filesystem answered SQLITE_FULL below our own limit
  Seq next_seq_ = 1;
  std::int64_t last_queued_ms_ = 0;
  std::map<Identity, IdentityState> identities_;
  std::map<std::int64_t, Identity> by_id_;
  std::map<std::int64_t, Seq> held_;          // per identity id: messages up to this seq are held
  std::map<std::int64_t, Seq> followed_;      // per identity id: messages from this seq on are held
  std::map<Identity, Seq> followed_unknown_;  // followed before their first message (no id yet)
};

}  // namespace fieldlink
