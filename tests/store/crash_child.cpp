// The crash test's victim: appends at full speed with `sync: full` and acknowledges like an
// upstream, reporting on stdout (one line per write(2), each < PIPE_BUF so a SIGKILL never tears
// one) what the journal has reported durable and what it is about to acknowledge:
//   READY                 the journal is open
//   D <first> <last>      messages m<first>..m<last> are durable
//   R <k>                 message m<k> was refused
//   A <k> <k> ...         these messages are being acknowledged
// Usage: journal_crash_child <journal.db> <first message number>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "core/clock.hpp"
#include "store/journal.hpp"

namespace fieldlink {
namespace {

class QuietLogger final : public Logger {
 public:
  void log(LogLevel level, const LogFields&, std::string_view message) override {
    if (level <= LogLevel::error)
      std::fprintf(stderr, "child: %.*s\n", int(message.size()), message.data());
  }
};

void say(const std::string& line) {
  const std::string text = line + "\n";
  [[maybe_unused]] const auto n = ::write(STDOUT_FILENO, text.data(), text.size());
}

class Victim {
 public:
  Victim(boost::asio::io_context& io, Journal& journal, std::uint64_t first)
      : io_(io), journal_(journal), first_(first) {
    for (int i = 0; i < 4; ++i)
      identities_.push_back(Identity{DeviceId("dev-" + std::to_string(i)), {}});
    journal_.on_commit([this](const CommitReport& r) { committed(r); });
  }

  void start() {
    // Whatever an earlier life left unacknowledged comes back first, with its own ids.
    for (const auto& who : identities_)
      drain(who);
    produce();
  }

 private:
  void produce() {
    for (int i = 0; i < 200; ++i) {
      const std::uint64_t k = first_ + appended_;
      Message m;
      m.identity = identities_[k % identities_.size()];
      m.id = "m" + std::to_string(k);
      m.body = std::make_shared<const std::string>(200, 'b');
      m.content_type = "application/json";
      m.created = std::chrono::system_clock::now();
      if (!journal_.append(std::move(m))) {
        blocked_ = true;  // the next commit report resumes us
        return;
      }
      ++appended_;
    }
    boost::asio::post(io_, [this] { produce(); });
  }

  void committed(const CommitReport& r) {
    if (r.through > durable_through_) {
      std::set<AppendTicket> refused(r.refused.begin(), r.refused.end());
      for (AppendTicket t : refused)
        say("R " + std::to_string(first_ + t - 1));
      // Tickets are 1, 2, ... in append order; message k = first + ticket - 1.
      say("D " + std::to_string(first_ + durable_through_) + " " +
          std::to_string(first_ + r.through - 1));
      durable_through_ = r.through;
    }
    for (const auto& who : r.fresh)
      drain(who);
    if (blocked_) {
      blocked_ = false;
      produce();
    }
  }

  void drain(const Identity& who) {
    if (busy_.count(who)) return;
    busy_.insert(who);
    journal_.peek(who, cursor_[who], 100, [this, who](std::vector<StoredMessage> got) {
      busy_.erase(who);
      if (got.empty()) return;
      std::string line = "A";
      for (const auto& m : got)
        line += " " + m.message.id.substr(1);
      say(line);
      journal_.ack({who, got.front().seq, got.back().seq});
      cursor_[who] = got.back().seq + 1;
      drain(who);
    });
  }

  boost::asio::io_context& io_;
  Journal& journal_;
  std::uint64_t first_;
  std::uint64_t appended_ = 0;
  AppendTicket durable_through_ = 0;
  bool blocked_ = false;
  std::vector<Identity> identities_;
  std::map<Identity, Seq> cursor_;
  std::set<Identity> busy_;
};

}  // namespace
}  // namespace fieldlink

int main(int argc, char** argv) {
  using namespace fieldlink;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <journal.db> <first message number>\n", argv[0]);
    return 64;
  }
  boost::asio::io_context io;
  SystemClock clock;
  QuietLogger log;
  StatvfsProbe probe;
  JournalSettings settings;
  settings.path = argv[1];
  settings.store.max_size = {256u << 20};
  settings.store.min_free = {0};
  settings.store.max_age = std::chrono::hours(24);
  settings.store.on_full = config::OnFull::drop_oldest;
  settings.store.sync = config::SyncMode::full;
  settings.store.commit_interval = std::chrono::milliseconds(5);
  settings.commit_batch = 256;
  std::string error;
  auto journal = Journal::open(settings, io.get_executor(), clock, log, probe, error);
  if (!journal) {
    std::fprintf(stderr, "child: %s\n", error.c_str());
    return 1;
  }
  Victim victim(io, *journal, std::stoull(argv[2]));
  say("READY");
  victim.start();
  io.run();
  return 0;
}
