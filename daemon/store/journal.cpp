#include "store/journal.hpp"

#include <boost/asio/post.hpp>

#include "core/utc_time.hpp"
#include "store/journal_file.hpp"

namespace fieldlink {

using namespace std::chrono;

struct Journal::Pending {
  JournalFile::Batch batch;
};

std::unique_ptr<Journal> Journal::open(JournalSettings settings, boost::asio::any_io_executor loop,
                                       const Clock& clock, Logger& log, const FreeSpaceProbe& probe,
                                       std::string& error) {
  auto opened = JournalFile::open(settings.path, settings.store, clock, probe, settings.sqlite_vfs);
  if (!opened.moved_aside.empty()) {
    log.error({.event = "journal.recovered"}, "journal " + settings.path +
                                                  " was unreadable; moved aside as " +
                                                  opened.moved_aside + " and started a new one");
  }
  if (!opened.file) {
    error = opened.error;
    return nullptr;
  }
  std::unique_ptr<Journal> journal(
      new Journal(std::move(settings), std::move(loop), clock, log, std::move(opened.file)));
  journal->moved_aside_ = opened.moved_aside;
  return journal;
}

Journal::Journal(JournalSettings settings, boost::asio::any_io_executor loop, const Clock& clock,
                 Logger& log, std::unique_ptr<JournalFile> file)
    : settings_(std::move(settings)),
      loop_(std::move(loop)),
      clock_(clock),
      log_(log),
      file_(std::move(file)),
      pending_(std::make_unique<Pending>()),
      commit_timer_(loop_),
      maintain_timer_(loop_),
      lane_("journal") {
  for (const auto& d : file_->depths()) {
    auto& s = identities_[d.identity];
    s.depth = d.depth;
    s.oldest = d.oldest;
  }
  file_bytes_ = file_->file_bytes();
  commands_queued_ = file_->command_count();
  arm_maintenance();
}

Journal::~Journal() {
  commit_timer_.cancel();
  maintain_timer_.cancel();
  // Whatever was accepted is written before the lane stops; its report has no one to go to.
  while (!pending_->batch.empty()) {
    commit_in_flight_ = false;
    start_commit();
  }
  alive_.reset();
}

// Runs `f` on the core loop unless the journal is gone by then. `alive` is taken on the core loop
// when the lane work is posted: the lane never touches `alive_` itself.
template <class F>
void Journal::post_back(const std::weak_ptr<int>& alive, F&& f) {
  boost::asio::post(loop_, [alive, f = std::forward<F>(f)]() mutable {
    if (alive.lock()) f();
  });
}

std::size_t Journal::pending_ops() const {
  const auto& b = pending_->batch;
  return b.appends.size() + b.acks.size() + b.rejects.size();
}

std::size_t Journal::intake_depth() const {
  return pending_->batch.appends.size() + in_flight_appends_;
}

std::optional<AppendTicket> Journal::append(Message message) {
  if (intake_depth() >= settings_.intake_limit) {
    count_drop(message.identity, DropReason::intake_full, 1);
    report_drops(false);
    return std::nullopt;
  }
  const AppendTicket ticket = ++next_ticket_;
  pending_->batch.appends.push_back({ticket, std::move(message)});
  schedule();
  return ticket;
}

void Journal::ack(AckRange range) {
  unacked_[range.identity].push_back({batches_ + 1, range.first, range.last});
  pending_->batch.acks.push_back(std::move(range));
  schedule();
}

void Journal::reject(const Identity& identity, Seq seq, std::string_view reason) {
  log_.warning({.event = "journal.rejected", .identity = identity.client_id()},
               "message " + std::to_string(seq) + " of " + identity.client_id() +
                   " dropped, the hub cannot take it: " + std::string(reason));
  unacked_[identity].push_back({batches_ + 1, seq, seq});
  pending_->batch.rejects.push_back({identity, seq, seq});
  schedule();
}

void Journal::flush() {
  if (pending_->batch.empty()) return;
  due_ = true;
  schedule();
}

void Journal::schedule() {
  if (pending_->batch.empty() || commit_in_flight_) return;  // the report calls us again
  if (due_ || pending_ops() >= settings_.commit_batch) {
    start_commit();
    return;
  }
  if (timer_armed_) return;
  timer_armed_ = true;
  commit_timer_.expires_after(settings_.store.commit_interval);
  // A wait that completed just before a cancel still runs: the generation tells it it is stale.
  commit_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_),
                            gen = ++timer_generation_](boost::system::error_code ec) {
    if (ec || !alive.lock() || gen != timer_generation_) return;
    timer_armed_ = false;
    due_ = true;
    schedule();
  });
}

void Journal::start_commit() {
  // At most `commit_batch` appends per transaction keeps the WAL's share of max_size predictable;
  // what is left over goes with the next commit, as soon as this one reports.
  auto work = std::make_shared<Pending>();
  auto& appends = pending_->batch.appends;
  if (appends.size() <= settings_.commit_batch) {
    work->batch.appends = std::move(appends);
    appends.clear();
    appends.reserve(settings_.commit_batch);  // the next batch fills without reallocating
  } else {
    const auto cut = appends.begin() + static_cast<std::ptrdiff_t>(settings_.commit_batch);
    work->batch.appends.assign(std::make_move_iterator(appends.begin()),
                               std::make_move_iterator(cut));
    appends.erase(appends.begin(), cut);
  }
  work->batch.acks = std::move(pending_->batch.acks);
  pending_->batch.acks.clear();
  work->batch.rejects = std::move(pending_->batch.rejects);
  pending_->batch.rejects.clear();
  due_ = !pending_->batch.empty();
  if (!due_ && timer_armed_) {
    commit_timer_.cancel();
    timer_armed_ = false;
    ++timer_generation_;
  }
  const std::uint64_t number = ++batches_;
  in_flight_appends_ += work->batch.appends.size();
  commit_in_flight_ = true;
  lane_.post([this, alive = std::weak_ptr<int>(alive_), guard = busy(), work, number] {
    auto report = std::make_shared<CommitReport>(file_->commit(work->batch));
    // The messages go back with the report: the tails take theirs from them.
    post_back(alive, [this, number, work, report]() mutable {
      committed(number, std::move(work), *report);
    });
  });
}

void Journal::committed(std::uint64_t batch, std::shared_ptr<Pending> work,
                        const CommitReport& report) {
  in_flight_appends_ -= work->batch.appends.size();
  commit_in_flight_ = false;
  ++commits_;
  commit_last_ = report.commit_time;
  commit_max_ = std::max(commit_max_, report.commit_time);
  commit_sum_ += report.commit_time;
  for (auto it = unacked_.begin(); it != unacked_.end();) {
    std::erase_if(it->second, [batch](const PendingAck& p) { return p.batch <= batch; });
    it = it->second.empty() ? unacked_.erase(it) : std::next(it);
  }
  absorb(report);
  extend_tails(*work, report);
  // What the tails did not take is freed on the lane, not on the loop.
  lane_.post([rest = std::move(work)] {});
  if (listener_) listener_(report);
  schedule();
}

void Journal::absorb(const CommitReport& report) {
  if (!report.moved_aside.empty()) {
    // What was in the old file is not readable; depths start again from this report.
    moved_aside_ = report.moved_aside;
    identities_.clear();
    commands_queued_ = 0;
    log_.error({.event = "journal.recovered"}, "journal " + settings_.path +
                                                   " became unreadable; moved aside as " +
                                                   report.moved_aside + " and started a new one");
  }
  if (!report.ok) {
    last_error_ = report.error;
    log_.error({.event = "journal.write_failed"}, "journal commit failed: " + report.error);
  } else if (report.appended > 0 || report.acked > 0) {
    last_error_.clear();
  }
  appends_ += report.appended;
  acks_ += report.acked;
  file_bytes_ = report.file_bytes;
  for (const auto& d : report.depths) {
    auto& s = identities_[d.identity];
    s.depth = d.depth;
    s.oldest = d.oldest;
  }
  for (const auto& d : report.drops)
    count_drop(d.identity, d.reason, d.count);
  for (const auto& [target, n] : report.downlink_expired) {
    commands_expired_[target] += n;
    unreported_downlink_[target] += n;
    commands_queued_ -= std::min(commands_queued_, n);
  }
  report_drops(false);
}

void Journal::count_drop(const Identity& identity, DropReason reason, std::uint64_t n) {
  const auto r = static_cast<std::size_t>(reason);
  identities_[identity].drops[r] += n;
  drops_[r] += n;
  unreported_[{identity, reason}] += n;
}

// Never silent, never a flood: the first drops are logged at once, later ones summed up at most
// once per report interval.
void Journal::report_drops(bool force) {
  if (unreported_.empty() && unreported_downlink_.empty()) return;
  const auto now = clock_.now();
  if (!force && last_drop_report_ && now - *last_drop_report_ < settings_.report_interval) return;
  last_drop_report_ = now;
  std::string text = "journal dropped:";
  std::uint64_t total = 0;
  for (const auto& [key, n] : unreported_) {
    text += " " + key.first.client_id() + " " + std::string(to_string(key.second)) + "=" +
            std::to_string(n) + ";";
    total += n;
  }
  for (const auto& [target, n] : unreported_downlink_) {
    text += " downlink " + target + " expired=" + std::to_string(n) + ";";
    total += n;
  }
  text += " total " + std::to_string(total);
  log_.warning({.event = "journal.dropped"}, text);
  unreported_.clear();
  unreported_downlink_.clear();
}

void Journal::arm_maintenance() {
  maintain_timer_.expires_after(settings_.maintain_interval);
  maintain_timer_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](boost::system::error_code ec) {
        if (ec || !alive.lock()) return;
        lane_.post([this, alive, work = busy()] {
          auto report = std::make_shared<CommitReport>(file_->maintain());
          post_back(alive, [this, report] {
            absorb(*report);
            report_drops(false);
            if (listener_ && (!report->drops.empty() || !report->downlink_expired.empty())) {
              listener_(*report);
            }
            arm_maintenance();
          });
        });
      });
}

void Journal::peek(const Identity& identity, Seq from, std::size_t max, PeekDone done) {
  const auto tail = tails_.find(identity);
  if (tail != tails_.end() && from >= tail->second.from) {
    // Answered on a later turn, as the file's answers are, from the tail as it is by then.
    boost::asio::post(loop_, [this, alive = std::weak_ptr<int>(alive_), identity, from, max,
                              done = std::move(done)]() mutable {
      if (alive.lock()) serve_from_tail(identity, from, max, std::move(done));
    });
    return;
  }
  if (tail != tails_.end()) close_tail(tail);  // an older position: only the file has it
  peek_file(identity, from, max, std::move(done));
}

void Journal::peek_file(const Identity& identity, Seq from, std::size_t max, PeekDone done) {
  ++peeks_file_;
  const std::uint64_t epoch = follow_epoch_[identity];
  lane_.post([this, alive = std::weak_ptr<int>(alive_), guard = busy(), identity, from, max, epoch,
              done = std::move(done)]() mutable {
    auto found = file_->peek(identity, from, max);
    // A short page is everything there is at this point of the lane's work: from here on the
    // reader follows the identity, and the file holds what the next commits store for it.
    const bool end = max > 0 && found.size() < max;
    const Seq next = found.empty() ? from : found.back().seq + 1;
    if (end) file_->follow(identity, next);
    post_back(alive, [this, identity, end, next, epoch, found = std::move(found),
                      done = std::move(done)]() mutable {
      hide_unacked(found);
      if (end && follow_epoch_[identity] == epoch) open_tail(identity, next);
      done(std::move(found));
    });
  });
}

void Journal::serve_from_tail(const Identity& identity, Seq from, std::size_t max, PeekDone done) {
  const auto it = tails_.find(identity);
  if (it == tails_.end() || from < it->second.from) {  // closed since it was asked
    if (it != tails_.end()) close_tail(it);
    peek_file(identity, from, max, std::move(done));
    return;
  }
  ++peeks_memory_;
  auto& tail = it->second;
  std::vector<StoredMessage> found;
  while (!tail.messages.empty() && found.size() < max) {
    auto& m = tail.messages.front();
    tail.from = m.seq + 1;
    if (m.seq >= from) found.push_back(std::move(m));  // older ones the reader has already
    tail.messages.pop_front();
    --tail_messages_;
  }
  tail.from = std::max(tail.from, from);
  hide_unacked(found);
  done(std::move(found));
}

// Acks still on their way to the file must already hide their messages.
void Journal::hide_unacked(std::vector<StoredMessage>& found) const {
  if (found.empty()) return;
  const auto it = unacked_.find(found.front().message.identity);
  if (it == unacked_.end()) return;
  std::erase_if(found, [&ranges = it->second](const StoredMessage& m) {
    for (const auto& p : ranges) {
      if (m.seq >= p.first && m.seq <= p.last) return true;
    }
    return false;
  });
}

void Journal::open_tail(const Identity& identity, Seq from) {
  auto& tail = tails_[identity];
  tail_messages_ -= tail.messages.size();  // replaced by the newer answer (the file follows it)
  tail.messages.clear();
  tail.from = from;
}

void Journal::close_tail(std::map<Identity, Tail>::iterator it) {
  // The reader has had everything below `from`; the rest it reads from the file when it asks.
  const Seq held_through = it->second.from > 0 ? it->second.from - 1 : 0;
  tail_messages_ -= it->second.messages.size();
  ++follow_epoch_[it->first];
  lane_.post(
      [this, identity = it->first, held_through] { file_->unfollow(identity, held_through); });
  tails_.erase(it);
}

void Journal::extend_tails(Pending& work, const CommitReport& report) {
  if (!report.moved_aside.empty()) {
    // A new file: its numbers start again and it follows no one, not even for peeks on the way.
    tails_.clear();
    tail_messages_ = 0;
    for (auto& [identity, epoch] : follow_epoch_)
      ++epoch;
    return;
  }
  if (tails_.empty() || !report.ok) return;
  Seq seq = report.first_seq;
  auto refused = report.refused.begin();  // in ticket order, as the appends
  for (auto& append : work.batch.appends) {
    if (refused != report.refused.end() && *refused == append.ticket) {
      ++refused;
      continue;
    }
    const Seq n = seq++;
    const auto it = tails_.find(append.message.identity);
    if (it == tails_.end()) continue;
    if (it->second.messages.size() >= settings_.tail_limit ||
        tail_messages_ >= settings_.tail_budget) {
      close_tail(it);  // a reader this far behind reads from the file again
      continue;
    }
    it->second.messages.push_back({n, std::move(append.message)});
    ++tail_messages_;
  }
}

void Journal::release(const Identity& identity) {
  ++follow_epoch_[identity];
  if (const auto it = tails_.find(identity); it != tails_.end()) {
    tail_messages_ -= it->second.messages.size();
    tails_.erase(it);
  }
  lane_.post([this, identity] { file_->release(identity); });
}

void Journal::put_command(Command command, system_clock::time_point expires, CommandStored done) {
  lane_.post([this, alive = std::weak_ptr<int>(alive_), work = busy(), command = std::move(command),
              expires, done = std::move(done)]() mutable {
    std::string error;
    const std::int64_t id = file_->put_command(command, expires, error);
    post_back(alive, [this, id, error = std::move(error), done = std::move(done)] {
      if (id > 0) ++commands_queued_;
      done(id, error);
    });
  });
}

void Journal::due_commands(std::size_t max, CommandsDue done) {
  lane_.post([this, alive = std::weak_ptr<int>(alive_), work = busy(), max,
              done = std::move(done)]() mutable {
    auto due = file_->due_commands(max);
    post_back(alive,
              [due = std::move(due), done = std::move(done)]() mutable { done(std::move(due)); });
  });
}

void Journal::command_attempted(std::int64_t id, system_clock::time_point retry_at) {
  lane_.post([this, id, retry_at] { file_->command_attempted(id, retry_at); });
}

void Journal::command_done(std::int64_t id) {
  lane_.post([this, alive = std::weak_ptr<int>(alive_), work = busy(), id] {
    if (file_->command_done(id)) {
      post_back(alive,
                [this] { commands_queued_ -= std::min<std::uint64_t>(commands_queued_, 1); });
    }
  });
}

std::uint64_t Journal::drops_total(DropReason reason) const {
  return drops_[static_cast<std::size_t>(reason)];
}

std::uint64_t Journal::depth(const Identity& identity) const {
  auto it = identities_.find(identity);
  return it == identities_.end() ? 0 : it->second.depth;
}

void Journal::describe(nlohmann::json& status) const {
  const auto wall = clock_.wall_now();
  auto& j = status["journal"];
  j["path"] = settings_.path;
  j["file_bytes"] = file_bytes_;
  j["max_size_bytes"] = settings_.store.max_size.bytes;
  j["min_free_bytes"] = settings_.store.min_free.bytes;
  j["appends"] = appends_;
  j["acks"] = acks_;
  std::uint64_t depth_total = 0;
  auto drops = nlohmann::json::object();
  for (std::size_t r = 0; r < kDropReasonCount; ++r) {
    drops[std::string(to_string(static_cast<DropReason>(r)))] = drops_[r];
  }
  j["drops"] = drops;
  auto ids = nlohmann::json::array();
  for (const auto& [who, s] : identities_) {
    depth_total += s.depth;
    nlohmann::json entry{{"identity", who.client_id()}, {"depth", s.depth}};
    if (s.depth > 0) {
      entry["oldest_age_seconds"] = duration<double>(wall - s.oldest).count();
      entry["oldest_queued_at"] = utc_iso8601(s.oldest);
    }
    auto d = nlohmann::json::object();
    for (std::size_t r = 0; r < kDropReasonCount; ++r) {
      if (s.drops[r]) d[std::string(to_string(static_cast<DropReason>(r)))] = s.drops[r];
    }
    if (!d.empty()) entry["drops"] = d;
    ids.push_back(std::move(entry));
  }
  j["depth"] = depth_total;
  j["identities"] = std::move(ids);
  j["commits"] = commits_;
  j["peeks"] = {{"memory", peeks_memory_}, {"file", peeks_file_}};
  j["commit_latency_ms"] = {{"last", duration<double, std::milli>(commit_last_).count()},
                            {"max", duration<double, std::milli>(commit_max_).count()},
                            {"mean", commits_ ? duration<double, std::milli>(commit_sum_).count() /
                                                    static_cast<double>(commits_)
                                              : 0.0}};
  j["downlink"] = {{"queued", commands_queued_}, {"expired", commands_expired_}};
  if (!last_error_.empty()) j["last_error"] = last_error_;
  if (!moved_aside_.empty()) j["moved_aside"] = moved_aside_;
}

void Journal::collect(MetricsWriter& m) const {
  const auto wall = clock_.wall_now();
  m.gauge("fieldlink_journal_file_bytes", "Size of the journal database and its WAL.",
          static_cast<double>(file_bytes_));
  m.counter("fieldlink_journal_appends_total", "Telemetry messages committed to the journal.",
            static_cast<double>(appends_));
  m.counter("fieldlink_journal_acks_total", "Telemetry messages deleted on PUBACK.",
            static_cast<double>(acks_));
  for (const auto& [who, s] : identities_) {
    const std::string id = who.client_id();
    m.gauge("fieldlink_journal_depth", "Unacknowledged messages per identity.",
            static_cast<double>(s.depth), {{"identity", id}});
    m.gauge("fieldlink_journal_oldest_age_seconds",
            "Age of the oldest unacknowledged message per identity.",
            s.depth ? duration<double>(wall - s.oldest).count() : 0.0, {{"identity", id}});
    for (std::size_t r = 0; r < kDropReasonCount; ++r) {
      if (!s.drops[r]) continue;
      m.counter("fieldlink_journal_drops_total",
                "Messages dropped or refused by the journal, per identity and reason.",
                static_cast<double>(s.drops[r]),
                {{"identity", id}, {"reason", to_string(static_cast<DropReason>(r))}});
    }
  }
  m.counter("fieldlink_journal_peeks_total",
            "Reads of telemetry for the upstream, answered from memory (a reader following its "
            "identity) or from the file.",
            static_cast<double>(peeks_memory_), {{"from", "memory"}});
  m.counter("fieldlink_journal_peeks_total",
            "Reads of telemetry for the upstream, answered from memory (a reader following its "
            "identity) or from the file.",
            static_cast<double>(peeks_file_), {{"from", "file"}});
  m.counter("fieldlink_journal_commit_seconds_sum", "Time spent in group commits.",
            duration<double>(commit_sum_).count());
  m.counter("fieldlink_journal_commit_seconds_count", "Group commits.",
            static_cast<double>(commits_));
  m.gauge("fieldlink_journal_commit_seconds_max", "Longest group commit since start.",
          duration<double>(commit_max_).count());
  m.gauge("fieldlink_journal_downlink_queued", "Downlink commands waiting for their device.",
          static_cast<double>(commands_queued_));
  for (const auto& [target, n] : commands_expired_) {
    m.counter("fieldlink_journal_downlink_expired_total",
              "Downlink commands dropped at their expiry, per target.", static_cast<double>(n),
              {{"source", target}});
  }
}

void Journal::health(std::vector<std::string>& problems) const {
  if (!last_error_.empty()) problems.push_back("journal: writes failing: " + last_error_);
}

}  // namespace fieldlink
