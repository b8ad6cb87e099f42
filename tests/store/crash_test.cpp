// The journal under SIGKILL: a child process (journal_crash_child) appends at full speed with
// `sync: full` and acknowledges like an upstream; we kill it at random moments, 20 times, and after
// each kill check the file: it passes integrity_check, and every message the child had been told
// was durable is there exactly once, unless the child had started acknowledging it.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "store_test_support.hpp"

namespace fieldlink {
namespace {

using namespace std::chrono;

struct ChildReport {
  bool ready = false;
  std::set<std::uint64_t> durable;
  std::set<std::uint64_t> acked;
  std::set<std::uint64_t> refused;
};

void parse(const std::string& line, ChildReport& r) {
  std::istringstream in(line);
  std::string tag;
  in >> tag;
  if (tag == "READY") {
    r.ready = true;
  } else if (tag == "D") {
    std::uint64_t first = 0, last = 0;
    in >> first >> last;
    for (auto k = first; k <= last; ++k)
      r.durable.insert(k);
  } else if (tag == "R") {
    std::uint64_t k = 0;
    in >> k;
    r.refused.insert(k);
  } else if (tag == "A") {
    for (std::uint64_t k = 0; in >> k;)
      r.acked.insert(k);
  }
}

// Runs the child until `kill_after` past its READY line, SIGKILLs it, and collects every line it
// managed to write.
ChildReport run_and_kill(const std::string& db, std::uint64_t first, milliseconds kill_after) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    const std::string start = std::to_string(first);
    ::execl(FIELDLINK_CRASH_CHILD, FIELDLINK_CRASH_CHILD, db.c_str(), start.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  ChildReport report;
  std::string pending;
  auto consume = [&](bool block_until_eof, steady_clock::time_point until) {
    char buf[65536];
    for (;;) {
      const auto left = duration_cast<milliseconds>(until - steady_clock::now()).count();
      if (!block_until_eof && left <= 0) return;
      pollfd p{fds[0], POLLIN, 0};
      const int ready = ::poll(&p, 1, block_until_eof ? 5000 : static_cast<int>(left));
      if (ready <= 0) return;
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) return;  // EOF: the child is gone
      pending.append(buf, static_cast<std::size_t>(n));
      for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
        const bool was_ready = report.ready;
        parse(pending.substr(0, nl), report);
        pending.erase(0, nl + 1);
        if (!was_ready && report.ready && !block_until_eof) {
          until = steady_clock::now() + kill_after;  // the clock starts once the journal is open
        }
      }
    }
  };
  // Generous bound for start-up (open, quick_check); then the random moment.
  consume(false, steady_clock::now() + seconds(10));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  consume(true, {});
  ::close(fds[0]);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child ended on its own, status " << status;
  return report;
}

TEST(JournalCrash, EveryDurableMessageSurvivesSigkillExactlyOnceOrWasAcked) {
  testing_support::TempDir dir;
  const std::string db = dir.file("journal.db");
  const auto seed = static_cast<std::uint32_t>(steady_clock::now().time_since_epoch().count());
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));

  std::set<std::uint64_t> durable, acked, appended_max;
  std::uint64_t total_durable = 0, total_acked = 0;
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::uint64_t first = static_cast<std::uint64_t>(round) * 10'000'000 + 1;
    const auto kill_after = milliseconds(20 + rng() % 380);
    const auto r = run_and_kill(db, first, kill_after);
    ASSERT_TRUE(r.ready) << "the child never opened the journal";
    EXPECT_TRUE(r.refused.empty());
    durable.insert(r.durable.begin(), r.durable.end());
    acked.insert(r.acked.begin(), r.acked.end());
    total_durable += r.durable.size();
    total_acked += r.acked.size();

    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> conn(raw, &sqlite3_close);
    sqlite3_stmt* check = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA integrity_check", -1, &check, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(check), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(check, 0)), "ok");
    sqlite3_finalize(check);

    std::map<std::uint64_t, int> present;
    sqlite3_stmt* rows = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw, "SELECT mid FROM up", -1, &rows, nullptr), SQLITE_OK);
    while (sqlite3_step(rows) == SQLITE_ROW) {
      const std::string mid = reinterpret_cast<const char*>(sqlite3_column_text(rows, 0));
      ++present[std::stoull(mid.substr(1))];
    }
    sqlite3_finalize(rows);

    std::uint64_t missing = 0, duplicated = 0;
    for (const auto& [k, n] : present)
      duplicated += n > 1 ? 1 : 0;
    for (std::uint64_t k : durable) {
      if (!acked.count(k) && !present.count(k)) ++missing;
    }
    EXPECT_EQ(missing, 0u) << "durable, never acknowledged, and gone";
    EXPECT_EQ(duplicated, 0u);
  }
  // Not vacuous: the children did write, and did acknowledge, a good deal.
  EXPECT_GT(total_durable, 2000u);
  EXPECT_GT(total_acked, 1000u);
  std::printf("crash test: %llu messages reported durable, %llu acknowledged over 20 kills\n",
              static_cast<unsigned long long>(total_durable),
              static_cast<unsigned long long>(total_acked));
}

}  // namespace
}  // namespace fieldlink
