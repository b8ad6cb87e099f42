// Journal, the core loop's face of the store: group commits on the lane, completions posted
// back, peek/ack through the lane, status and metrics, drop reports. Runs a real io_context and
// waits on events with a deadline, never on sleeps.
#include "store/journal.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <fstream>

#include "store_test_support.hpp"

namespace fieldlink {
namespace {

using namespace std::chrono_literals;
using namespace testing_support;

class JournalTest : public ::testing::Test {
 protected:
  JournalSettings settings() {
    JournalSettings s;
    s.path = dir_.file("journal.db");
    s.store = store_config();
    return s;
  }

  std::unique_ptr<Journal> open(JournalSettings s) {
    std::string error;
    auto j = Journal::open(std::move(s), io_.get_executor(), clock_, log_, probe_, error);
    EXPECT_TRUE(j) << error;
    if (j) {
      j->on_commit([this](const CommitReport& r) { reports_.push_back(r); });
    }
    return j;
  }

  // Runs the loop until `done` holds; false if the deadline passed first.
  template <class Pred>
  bool run_until(Pred done, std::chrono::seconds deadline = 10s) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    io_.restart();
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      io_.run_one_for(10ms);
    }
    return true;
  }

  AppendTicket durable_through() const {
    AppendTicket t = 0;
    for (const auto& r : reports_)
      t = std::max(t, r.through);
    return t;
  }

  std::vector<StoredMessage> peek(Journal& j, const Identity& who, Seq from = 0,
                                  std::size_t max = 1000) {
    std::optional<std::vector<StoredMessage>> got;
    j.peek(who, from, max, [&](std::vector<StoredMessage> v) { got = std::move(v); });
    EXPECT_TRUE(run_until([&] { return got.has_value(); }));
    return got.value_or(std::vector<StoredMessage>{});
  }

  TempDir dir_;
  boost::asio::io_context io_;
  ManualClock clock_;
  RecordingLogger log_;
  ScriptedProbe probe_;
  std::vector<CommitReport> reports_;
};

TEST_F(JournalTest, AFullBatchCommitsWithoutWaitingForTheInterval) {
  auto s = settings();
  s.commit_batch = 4;
  s.store.commit_interval = 10s;  // would time the test out if the count did not trigger it
  auto j = open(s);
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(j->append(message(identity("a"), std::to_string(i))));
  ASSERT_TRUE(run_until([&] { return durable_through() == 4; }, 5s));
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_TRUE(reports_[0].refused.empty());
  EXPECT_EQ(reports_[0].fresh, std::vector<Identity>{identity("a")});
  EXPECT_EQ(j->appends_total(), 4u);
  EXPECT_EQ(j->depth(identity("a")), 4u);
}

TEST_F(JournalTest, APartialBatchCommitsAfterTheInterval) {
  auto s = settings();
  s.commit_batch = 1000;
  s.store.commit_interval = 20ms;
  auto j = open(s);
  const auto t = j->append(message(identity("a"), "lonely"));
  ASSERT_TRUE(t);
  io_.restart();
  io_.run_one_for(1ms);
  EXPECT_TRUE(reports_.empty());  // not before the interval
  ASSERT_TRUE(run_until([&] { return durable_through() == *t; }));
  EXPECT_EQ(peek(*j, identity("a")).size(), 1u);
}

TEST_F(JournalTest, PeekNeverReturnsAckedMessagesEvenBeforeTheAckIsCommitted) {
  auto s = settings();
  s.store.commit_interval = 10s;  // the ack stays pending unless flushed
  auto j = open(s);
  for (int i = 0; i < 10; ++i)
    j->append(message(identity("a"), std::to_string(i)));
  j->flush();
  ASSERT_TRUE(run_until([&] { return durable_through() == 10; }));
  const auto all = peek(*j, identity("a"));
  ASSERT_EQ(all.size(), 10u);
  j->ack({identity("a"), all[3].seq, all[5].seq});
  EXPECT_EQ(peek(*j, identity("a")).size(), 7u);  // the ack is still waiting for its commit
  j->flush();
  ASSERT_TRUE(run_until([&] { return j->acks_total() == 3; }));
  const auto left = peek(*j, identity("a"));
  ASSERT_EQ(left.size(), 7u);
  EXPECT_EQ(left[3].message.id, "6");
  EXPECT_EQ(j->depth(identity("a")), 7u);
}

TEST_F(JournalTest, ARejectedMessageIsDeletedCountedAndLoggedWithItsReason) {
  auto s = settings();
  s.store.commit_interval = 10s;
  auto j = open(s);
  for (int i = 0; i < 3; ++i)
    j->append(message(identity("a"), std::to_string(i)));
  j->flush();
  ASSERT_TRUE(run_until([&] { return durable_through() == 3; }));
  const auto all = peek(*j, identity("a"));
  ASSERT_EQ(all.size(), 3u);
  j->reject(identity("a"), all[1].seq, "body over 256 KiB");
  j->ack(identity("a"), all[0].seq);
  EXPECT_EQ(peek(*j, identity("a")).size(), 1u);  // hidden before the commit
  j->flush();
  ASSERT_TRUE(run_until([&] { return j->acks_total() == 1; }));
  EXPECT_EQ(j->drops_total(DropReason::rejected), 1u);
  EXPECT_EQ(j->depth(identity("a")), 1u);
  const auto left = peek(*j, identity("a"), all[0].seq);  // `from` is inclusive
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].message.id, "2");
  const auto logged = log_.with_event("journal.rejected");
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].message.find("body over 256 KiB"), std::string::npos);
}

TEST_F(JournalTest, ACursorPagesThroughAnIdentityInOrder) {
  auto j = open(settings());
  for (int i = 0; i < 25; ++i)
    j->append(message(identity("a"), std::to_string(i)));
  j->flush();
  ASSERT_TRUE(run_until([&] { return durable_through() == 25; }));
  std::vector<std::string> got;
  Seq from = 0;
  for (auto part = peek(*j, identity("a"), from, 10); !part.empty();
       part = peek(*j, identity("a"), from, 10)) {
    for (const auto& m : part)
      got.push_back(m.message.id);
    from = part.back().seq + 1;
  }
  ASSERT_EQ(got.size(), 25u);
  for (int i = 0; i < 25; ++i)
    EXPECT_EQ(got[static_cast<std::size_t>(i)], std::to_string(i));
}

namespace {
void expect_same(const StoredMessage& got, const StoredMessage& want) {
  EXPECT_EQ(got.seq, want.seq);
  EXPECT_EQ(got.message.id, want.message.id);
  EXPECT_EQ(got.message.identity, want.message.identity);
  EXPECT_EQ(*got.message.body, *want.message.body);
  EXPECT_EQ(got.message.properties, want.message.properties);
  EXPECT_EQ(got.message.content_type, want.message.content_type);
  EXPECT_EQ(got.message.content_encoding, want.message.content_encoding);
  EXPECT_EQ(got.message.created, want.message.created);
}
}  // namespace

// A live stream is not read back from the file: once a reader has read to the end, what later
// commits store for its identity is handed to it from memory, numbered and in order exactly as
// the file has it.
TEST_F(JournalTest, AReaderAtTheEndGetsLaterCommitsFromMemoryAsTheFileHasThem) {
  auto j = open(settings());
  const auto a = identity("a"), b = identity("b");
  for (int i = 0; i < 3; ++i)
    j->append(message(a, "a" + std::to_string(i)));
  j->flush();
  ASSERT_TRUE(run_until([&] { return durable_through() == 3; }));
  const auto first = peek(*j, a, 0, 100);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(j->peeks_from_file(), 1u);
  for (int i = 3; i < 13; ++i) {
    j->append(message(b, "b" + std::to_string(i)));
    j->append(message(a, "a" + std::to_string(i)));
  }
  j->flush();
  ASSERT_TRUE(run_until([&] { return durable_through() == 23; }));

  const auto live = peek(*j, a, first.back().seq + 1, 100);
  EXPECT_EQ(j->peeks_from_memory(), 1u);
  EXPECT_EQ(j->peeks_from_file(), 1u);
  ASSERT_EQ(live.size(), 10u);
  EXPECT_TRUE(peek(*j, a, live.back().seq + 1, 100).empty());
  EXPECT_EQ(j->peeks_from_memory(), 2u);

  const auto stored = peek(*j, a, 0, 100);  // an older position: the file answers
  EXPECT_EQ(j->peeks_from_file(), 2u);
  ASSERT_EQ(stored.size(), 13u);
  for (std::size_t i = 0; i < live.size(); ++i)
    expect_same(live[i], stored[3 + i]);
}

// Appends a full journal refuses get no number: the messages handed out from memory are still
// numbered as the file numbered the stored ones.
TEST_F(JournalTest, RefusedAppendsTakeNoNumberInWhatAReaderGetsFromMemory) {
  auto s = settings();
  s.store = store_config(2u << 20);
  s.store.on_full = config::OnFull::reject_new;
  s.commit_batch = 1000;
  auto j = open(s);
  const auto a = identity("a"), b = identity("b");
  EXPECT_TRUE(peek(*j, a, 0, 100).empty());  // at the end before its first message
  std::vector<StoredMessage> live;
  AppendTicket sent = 0;
  for (int round = 0; round < 30; ++round) {
    for (int i = 0; i < 200; ++i) {
      const auto who = i % 2 == 0 ? a : b;
      ASSERT_TRUE(j->append(message(who, std::to_string(round * 200 + i), 1024)));
      ++sent;
    }
    j->flush();
    ASSERT_TRUE(run_until([&] { return durable_through() == sent; }));
    for (auto& m : peek(*j, a, live.empty() ? 0 : live.back().seq + 1, 1000))
      live.push_back(std::move(m));
  }
  ASSERT_GT(j->drops_total(DropReason::max_size), 0u) << "the journal never filled";
  EXPECT_EQ(j->peeks_from_file(), 1u);  // only the first
  const auto stored = peek(*j, a, 0, 100000);
  ASSERT_EQ(live.size(), stored.size());
  for (std::size_t i = 0; i < live.size(); ++i)
    expect_same(live[i], stored[i]);
}

TEST_F(JournalTest, AReaderTooFarBehindOrReleasedReadsFromTheFileAgain) {
  auto s = settings();
  s.tail_limit = 4;
  auto j = open(s);
  const auto a = identity("a");
  EXPECT_TRUE(peek(*j, a, 0, 100).empty());
  for (int i = 0; i < 10; ++i)
    j->append(message(a, std::to_string(i)));
  j->flush();
  ASSERT_TRUE(run_until([&] { return durable_through() == 10; }));
  auto got = peek(*j, a, 0, 100);  // more than the tail may keep: it was given up
  EXPECT_EQ(j->peeks_from_memory(), 0u);
  EXPECT_EQ(j->peeks_from_file(), 2u);
  ASSERT_EQ(got.size(), 10u);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(got[static_cast<std::size_t>(i)].message.id, std::to_string(i));

  // That read reached the end again: followed, until the reader goes offline.
  j->release(a);
  j->append(message(a, "10"));
  j->flush();
  ASSERT_TRUE(run_until([&] { return durable_through() == 11; }));
  got = peek(*j, a, got.back().seq + 1, 100);
  EXPECT_EQ(j->peeks_from_memory(), 0u);
  EXPECT_EQ(j->peeks_from_file(), 3u);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message.id, "10");
}

// A reader that goes offline while its peek is on the lane: the file stops following it after
// that peek, so the answer must not start a tail either (what a tail hands out must be held).
TEST_F(JournalTest, APeekAnsweredAfterItsReaderWasReleasedFollowsNothing) {
  auto j = open(settings());
  const auto a = identity("a");
  std::optional<std::vector<StoredMessage>> got;
  j->peek(a, 0, 100, [&](std::vector<StoredMessage> v) { got = std::move(v); });
  j->release(a);  // before the answer comes back
  ASSERT_TRUE(run_until([&] { return got.has_value(); }));
  EXPECT_TRUE(got->empty());
  j->append(message(a, "0"));
  j->flush();
  ASSERT_TRUE(run_until([&] { return durable_through() == 1; }));
  EXPECT_EQ(peek(*j, a, 0, 100).size(), 1u);
  EXPECT_EQ(j->peeks_from_memory(), 0u);
  EXPECT_EQ(j->peeks_from_file(), 2u);
}

TEST_F(JournalTest, AFullIntakeRefusesAppendsCountsAndLogsOncePerInterval) {
  auto s = settings();
  s.intake_limit = 10;
  s.commit_batch = 1000;
  s.store.commit_interval = 10s;
  s.report_interval = 60s;
  auto j = open(s);
  int accepted = 0;
  for (int i = 0; i < 13; ++i)
    accepted += j->append(message(identity("a"), "m")) ? 1 : 0;
  EXPECT_EQ(accepted, 10);
  EXPECT_EQ(j->drops_total(DropReason::intake_full), 3u);
  auto logged = log_.with_event("journal.dropped");
  ASSERT_EQ(logged.size(), 1u);  // the first drop at once; the next two wait for the interval
  EXPECT_NE(logged[0].message.find("a intake_full=1"), std::string::npos) << logged[0].message;

  clock_.advance(60s);
  EXPECT_FALSE(j->append(message(identity("a"), "m")));
  logged = log_.with_event("journal.dropped");
  ASSERT_EQ(logged.size(), 2u);
  EXPECT_NE(logged[1].message.find("a intake_full=3"), std::string::npos) << logged[1].message;
  EXPECT_EQ(logged[1].level, LogLevel::warning);
}

TEST_F(JournalTest, StatusAndMetricsShowDepthAgeBytesAndDrops) {
  auto j = open(settings());
  for (int i = 0; i < 3; ++i)
    j->append(message(identity("boiler-3"), std::to_string(i)));
  j->append(message(identity("gw", "mod"), "x"));
  j->flush();
  ASSERT_TRUE(run_until([&] { return durable_through() == 4; }));
  clock_.advance(90s);

  nlohmann::json status;
  j->describe(status);
  const auto& js = status.at("journal");
  EXPECT_EQ(js.at("depth"), 4);
  EXPECT_EQ(js.at("appends"), 4);
  EXPECT_GT(js.at("file_bytes").get<std::uint64_t>(), 0u);
  ASSERT_EQ(js.at("identities").size(), 2u);
  EXPECT_EQ(js.at("identities")[0].at("identity"), "boiler-3");
  EXPECT_EQ(js.at("identities")[0].at("depth"), 3);
  EXPECT_DOUBLE_EQ(js.at("identities")[0].at("oldest_age_seconds").get<double>(), 90.0);
  EXPECT_EQ(js.at("identities")[1].at("identity"), "gw/mod");
  EXPECT_EQ(js.at("commits"), 1);

  MetricsWriter m;
  j->collect(m);
  const auto text = m.text();
  EXPECT_NE(text.find("fieldlink_journal_depth{identity=\"boiler-3\"} 3\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("fieldlink_journal_oldest_age_seconds{identity=\"boiler-3\"} 90\n"),
            std::string::npos);
  EXPECT_NE(text.find("fieldlink_journal_appends_total 4\n"), std::string::npos);
  EXPECT_NE(text.find("fieldlink_journal_commit_seconds_count 1\n"), std::string::npos);

  std::vector<std::string> problems;
  j->health(problems);
  EXPECT_TRUE(problems.empty());
}

TEST_F(JournalTest, ExpiryRunsOnItsOwnAndIsReportedAndCounted) {
  auto s = settings();
  s.store.max_age = 1min;
  s.maintain_interval = 5ms;
  auto j = open(s);
  for (int i = 0; i < 6; ++i)
    j->append(message(identity("a"), std::to_string(i)));
  j->flush();
  ASSERT_TRUE(run_until([&] { return durable_through() == 6; }));
  clock_.advance(61s);
  ASSERT_TRUE(run_until([&] { return j->drops_total(DropReason::expired) == 6; }));
  EXPECT_EQ(j->depth(identity("a")), 0u);
  const auto logged = log_.with_event("journal.dropped");
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].message.find("a expired=6"), std::string::npos) << logged[0].message;
}

TEST_F(JournalTest, DownlinkCommandIsDurableBeforeItsCallbackAndExpiresCounted) {
  auto s = settings();
  s.maintain_interval = 5ms;
  auto j = open(s);
  std::optional<std::int64_t> id;
  j->put_command(Command{.kind = Command::Kind::c2d,
                         .target = *SourceAddress::parse("serial://scale"),
                         .name = {},
                         .payload = "tare",
                         .properties = {},
                         .request_id = "c2d-1",
                         .deadline = {}},
                 clock_.wall_now() + 1min, [&](std::int64_t stored, const std::string& error) {
                   EXPECT_TRUE(error.empty()) << error;
                   id = stored;
                 });
  ASSERT_TRUE(run_until([&] { return id.has_value(); }));
  EXPECT_GT(*id, 0);
  std::optional<std::vector<QueuedCommand>> due;
  j->due_commands(10, [&](std::vector<QueuedCommand> v) { due = std::move(v); });
  ASSERT_TRUE(run_until([&] { return due.has_value(); }));
  ASSERT_EQ(due->size(), 1u);
  j->command_attempted(*id, clock_.wall_now() + 10s);

  clock_.advance(61s);
  ASSERT_TRUE(run_until([&] {
    nlohmann::json st;
    j->describe(st);
    return st["journal"]["downlink"]["expired"].value("serial://scale", 0) == 1;
  }));
  nlohmann::json st;
  j->describe(st);
  EXPECT_EQ(st["journal"]["downlink"]["queued"], 0);
  const auto logged = log_.with_event("journal.dropped");
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].message.find("downlink serial://scale expired=1"), std::string::npos);
}

TEST_F(JournalTest, ACorruptFileIsMovedAsideAndLoggedAtErrorWithItsName) {
  {
    std::ofstream out(dir_.file("journal.db"), std::ios::binary);
    out << "this is not a database, it is a shopping list" << std::string(5000, '!');
  }
  auto j = open(settings());
  ASSERT_TRUE(j);
  const auto logged = log_.with_event("journal.recovered");
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0].level, LogLevel::error);
  EXPECT_NE(logged[0].message.find(dir_.file("journal.db.corrupt-")), std::string::npos)
      << logged[0].message;
  ASSERT_TRUE(j->append(message(identity("a"), "fresh")));
  j->flush();
  ASSERT_TRUE(run_until([&] { return durable_through() == 1; }));
  EXPECT_EQ(peek(*j, identity("a")).size(), 1u);
}

TEST_F(JournalTest, DestroyingTheJournalCommitsWhatWasAccepted) {
  {
    auto s = settings();
    s.store.commit_interval = 10s;
    auto j = open(s);
    for (int i = 0; i < 5; ++i)
      j->append(message(identity("a"), std::to_string(i)));
  }
  auto j = open(settings());
  EXPECT_EQ(j->depth(identity("a")), 5u);
}

}  // namespace
}  // namespace fieldlink
