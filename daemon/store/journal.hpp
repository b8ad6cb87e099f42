#pragma once
// The journal as the core loop sees it: durable, bounded store-and-forward for telemetry (up) and
// a durable queue for downlink commands (design.md §4, §5). Appends are gathered into group
// commits — at most `store.commit_interval` or `commit_batch` appends and acks, whichever comes
// first — which run on the journal's own lane, so no fsync ever runs on the core loop. One commit
// is in flight at a time: while the disk is busy the next batch keeps filling (up to
// `commit_batch` per transaction, `intake_limit` in all), so a slow disk gets bigger transactions
// rather than a queue. Downlink commands are each committed on their own (they are few).
//
// Thread: every public call, every callback and the StatusProvider run on the core loop (the
// executor passed to `open`). Callbacks are never called from inside the call that registered
// them. Destroy the journal on the core loop before the loop itself: it commits what is pending
// and joins its lane.
// Ownership: messages are moved in; bodies are shared, never copied. Callbacks are owned until
// called; those still queued when the journal is destroyed are dropped uncalled.
// Errors: values, never exceptions. A refused append returns no ticket and is counted; a failed
// commit reports its tickets as refused; a corrupt file is moved aside, logged at error, and a new
// one started.
#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/lane.hpp"
#include "core/log.hpp"
#include "status/status_board.hpp"
#include "store/free_space_probe.hpp"
#include "store/journal_records.hpp"

namespace fieldlink {

class JournalFile;

struct JournalSettings {
  std::string path;  // normally <gateway.state_dir>/journal.db
  config::StoreConfig store;
  std::size_t commit_batch = 512;   // N: a group commit starts once this many ops wait
  std::size_t intake_limit = 8192;  // appends waiting for their commit; more are refused
  std::chrono::milliseconds maintain_interval{1000};  // expiry and space give-back
  std::chrono::milliseconds report_interval{60000};   // drop summaries: at most one per interval
  // Messages kept in memory for readers that follow their identity (see Journal::Tail): at most
  // this many per identity and in all; a reader further behind reads from the file again.
  std::size_t tail_limit = 1024;
  std::size_t tail_budget = 8192;
  std::string sqlite_vfs;  // empty: SQLite's default; tests inject a filesystem that fills up
};

class Journal final : public StatusProvider {
 public:
  using CommitListener = std::function<void(const CommitReport&)>;
  using PeekDone = std::function<void(std::vector<StoredMessage>)>;
  using CommandStored = std::function<void(std::int64_t id, const std::string& error)>;
  using CommandsDue = std::function<void(std::vector<QueuedCommand>)>;

  // Opens (or creates, or recovers) the file synchronously — meant for start-up, before READY.
  // Null with `error` set if the file cannot be opened at all (e.g. the directory is not
  // writable); a corrupt file is not such a case.
  static std::unique_ptr<Journal> open(JournalSettings settings, boost::asio::any_io_executor loop,
                                       const Clock& clock, Logger& log, const FreeSpaceProbe& probe,
                                       std::string& error);
  ~Journal() override;
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Queues a message for the next group commit. The ticket is reported in a CommitReport
  // (`through`, and `refused` if it was not stored); nullopt when the intake is full (counted).
  std::optional<AppendTicket> append(Message message);
  // Appends waiting for their group commit (refused beyond JournalSettings::intake_limit).
  std::size_t intake_depth() const;
  // The ticket of the latest accepted append (0 before the first): it is decided once a
  // CommitReport's `through` reaches it. Tickets grow and commits run in order.
  AppendTicket last_ticket() const { return next_ticket_; }
  // Called after every group commit and maintenance pass (one listener; the router fans out):
  // which appends are durable, which identities have new messages, what was dropped.
  void on_commit(CommitListener listener) { listener_ = std::move(listener); }
  // The oldest committed messages of `identity` with seq >= from, oldest first, at most `max`
  // (hub::Outbox::peek's contract). Pass 0 to start from the oldest unacknowledged, e.g. after a
  // reconnect. Acknowledged or rejected ones never appear, even before their commit.
  // Peeked messages are held: a full disk or max_age evicts others first (JournalFile::peek).
  // A reader whose peek reached the end follows its identity from then on: what later commits
  // store for it is answered from memory (see Tail), otherwise from the file on the lane.
  void peek(const Identity& identity, Seq from, std::size_t max, PeekDone done);
  // The reader holds none of `identity`'s peeked messages any more.
  void release(const Identity& identity);
  // The hub has the messages (PUBACK): delete them with the next group commit.
  void ack(AckRange range);
  void ack(const Identity& identity, Seq seq) { ack(AckRange{identity, seq, seq}); }
  // The hub can never take this message (e.g. too large): delete it, count it as a drop
  // (`rejected`) and log why.
  void reject(const Identity& identity, Seq seq, std::string_view reason);
  // Starts the pending group commit now (shutdown drain, tests).
  void flush();

  // Downlink. `done` gets the command's id once it is durable (then the C2D may be PUBACKed),
  // or 0 and the reason.
  void put_command(Command command, std::chrono::system_clock::time_point expires,
                   CommandStored done);
  // Commands whose next attempt is due (never expired ones), oldest first.
  void due_commands(std::size_t max, CommandsDue done);
  // Delivery failed because the device is unreachable: keep it, try again at `retry_at`.
  void command_attempted(std::int64_t id, std::chrono::system_clock::time_point retry_at);
  // Delivered, or refused by the device for good: forget it.
  void command_done(std::int64_t id);

  void describe(nlohmann::json& status) const override;
  void collect(MetricsWriter& metrics) const override;
  void health(std::vector<std::string>& problems) const override;

  // Figures for tests and the benchmark.
  std::uint64_t appends_total() const { return appends_; }
  std::uint64_t acks_total() const { return acks_; }
  std::uint64_t drops_total(DropReason reason) const;
  std::uint64_t depth(const Identity& identity) const;
  std::uint64_t commits_total() const { return commits_; }
  std::uint64_t peeks_from_memory() const { return peeks_memory_; }
  std::uint64_t peeks_from_file() const { return peeks_file_; }

 private:
  struct IdentityStats {
    std::uint64_t depth = 0;
    std::chrono::system_clock::time_point oldest;
    std::uint64_t drops[kDropReasonCount] = {};
  };
  struct PendingAck {
    std::uint64_t batch = 0;  // the group commit that carries it
    Seq first = 0;
    Seq last = 0;
  };
  // A live stream would otherwise cost, per message, a trip to the lane and a SELECT of a body
  // the loop had in its hands one group commit earlier. Once a reader's peek has reached the end
  // of its identity (as of that point in the lane's work), every later commit's messages of that
  // identity are kept here, in order, until the reader asks for them. Commit reports and peek
  // answers come back in the lane's order, so the tail misses none and repeats none. The file
  // holds them meanwhile (JournalFile::follow), so a full disk never evicts one of them.
  struct Tail {
    Seq from = 0;  // every committed message with seq >= from is in `messages` (or acked)
    std::deque<StoredMessage> messages;
  };

  Journal(JournalSettings settings, boost::asio::any_io_executor loop, const Clock& clock,
          Logger& log, std::unique_ptr<JournalFile> file);
  std::size_t pending_ops() const;
  void schedule();
  void start_commit();
  struct Pending;  // one group commit's work (JournalFile::Batch)
  void committed(std::uint64_t batch, std::shared_ptr<Pending> work, const CommitReport& report);
  void peek_file(const Identity& identity, Seq from, std::size_t max, PeekDone done);
  void serve_from_tail(const Identity& identity, Seq from, std::size_t max, PeekDone done);
  void hide_unacked(std::vector<StoredMessage>& found) const;
  void open_tail(const Identity& identity, Seq from);
  void close_tail(std::map<Identity, Tail>::iterator tail);
  void extend_tails(Pending& work, const CommitReport& report);
  void absorb(const CommitReport& report);
  void count_drop(const Identity& identity, DropReason reason, std::uint64_t n);
  void report_drops(bool force);
  void arm_maintenance();
  // Lane work counts as outstanding work of the core loop, as any asynchronous operation does:
  // the loop's run() does not return while a result is on its way back.
  boost::asio::executor_work_guard<boost::asio::any_io_executor> busy() {
    return boost::asio::make_work_guard(loop_);
  }
  template <class F>
  void post_back(const std::weak_ptr<int>& alive, F&& f);

  JournalSettings settings_;
  boost::asio::any_io_executor loop_;
  const Clock& clock_;
  Logger& log_;
  std::unique_ptr<JournalFile> file_;  // used only on lane_ after open
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);

  CommitListener listener_;
  std::unique_ptr<Pending> pending_;
  AppendTicket next_ticket_ = 0;
  std::uint64_t batches_ = 0;
  std::uint64_t in_flight_appends_ = 0;
  bool commit_in_flight_ = false;
  bool due_ = false;
  bool timer_armed_ = false;
  std::uint64_t timer_generation_ = 0;
  std::map<Identity, std::vector<PendingAck>> unacked_;  // acks not yet committed, per identity
  std::map<Identity, Tail> tails_;
  // Bumped whenever the loop tells the file to stop following an identity (release, a closed
  // tail): the answer of a peek posted before that must not open a tail, since the file's
  // follow from that peek has been undone after it.
  std::map<Identity, std::uint64_t> follow_epoch_;
  std::size_t tail_messages_ = 0;
  std::uint64_t peeks_memory_ = 0;
  std::uint64_t peeks_file_ = 0;
  boost::asio::steady_timer commit_timer_;
  boost::asio::steady_timer maintain_timer_;

  // Status, mirrored from the lane's reports.
  std::map<Identity, IdentityStats> identities_;
  std::uint64_t appends_ = 0;
  std::uint64_t acks_ = 0;
  std::uint64_t commits_ = 0;
  std::uint64_t drops_[kDropReasonCount] = {};
  std::uint64_t file_bytes_ = 0;
  std::chrono::nanoseconds commit_last_{0};
  std::chrono::nanoseconds commit_max_{0};
  std::chrono::nanoseconds commit_sum_{0};
  std::uint64_t commands_queued_ = 0;
  std::map<std::string, std::uint64_t> commands_expired_;
  std::string last_error_;
  std::string moved_aside_;
  std::map<std::pair<Identity, DropReason>, std::uint64_t> unreported_;
  std::map<std::string, std::uint64_t> unreported_downlink_;
  std::optional<std::chrono::steady_clock::time_point> last_drop_report_;

  Lane lane_;  // last: joined first on destruction, while everything its work uses still exists
};

}  // namespace fieldlink
