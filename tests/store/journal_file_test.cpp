// JournalFile against a real SQLite file in a temporary directory, driven synchronously with a
// manual clock: order, acks, restart, bounds with exact counts, recovery, downlink.
#include "store/journal_file.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <regex>

#include "core/clock.hpp"
#include "full_disk_vfs.hpp"
#include "store_test_support.hpp"

namespace fieldlink {
namespace {

using namespace std::chrono_literals;
using namespace testing_support;

class JournalFileTest : public ::testing::Test {
 protected:
  std::unique_ptr<JournalFile> open_file(const config::StoreConfig& c) {
    auto opened = JournalFile::open(dir_.file("journal.db"), c, clock_, probe_);
    EXPECT_TRUE(opened.file) << opened.error;
    moved_aside_ = opened.moved_aside;
    return std::move(opened.file);
  }

  // Appends `messages` in one group commit; returns the report.
  CommitReport commit(JournalFile& f, std::vector<Message> messages,
                      std::vector<AckRange> acks = {}) {
    JournalFile::Batch b;
    for (auto& m : messages)
      b.appends.push_back({++ticket_, std::move(m)});
    b.acks = std::move(acks);
    auto r = f.commit(b);
    EXPECT_TRUE(r.ok) << r.error;
    return r;
  }

  std::vector<StoredMessage> peek_all(JournalFile& f, const Identity& who, std::size_t chunk = 7) {
    std::vector<StoredMessage> all;
    Seq from = 0;
    for (;;) {
      auto part = f.peek(who, from, chunk);
      if (part.empty()) return all;
      from = part.back().seq + 1;
      for (auto& m : part)
        all.push_back(std::move(m));
    }
  }

  static std::vector<std::string> ids(const std::vector<StoredMessage>& v) {
    std::vector<std::string> out;
    for (const auto& m : v)
      out.push_back(m.message.id);
    return out;
  }

  static std::uint64_t dropped(const CommitReport& r, DropReason reason) {
    std::uint64_t n = 0;
    for (const auto& d : r.drops)
      n += d.reason == reason ? d.count : 0;
    return n;
  }

  TempDir dir_;
  ManualClock clock_;
  ScriptedProbe probe_;
  AppendTicket ticket_ = 0;
  std::string moved_aside_;
};

TEST_F(JournalFileTest, NewFileHasWalIncrementalVacuumAndSchemaVersion) {
  auto f = open_file(store_config());
  EXPECT_EQ(f->db().query_int("PRAGMA auto_vacuum"), 2);  // INCREMENTAL
  EXPECT_EQ(f->db().query_int("PRAGMA user_version"), JournalFile::kSchemaVersion);
  auto* mode = f->db().statement("PRAGMA journal_mode");
  ASSERT_EQ(mode->step(), SQLITE_ROW);
  EXPECT_EQ(mode->text(0), "wal");
  mode->reset();
  EXPECT_TRUE(moved_aside_.empty());
}

TEST_F(JournalFileTest, KeepsFifoPerIdentityUnderInterleaving) {
  auto f = open_file(store_config());
  const std::vector<Identity> who = {identity("a"), identity("b"), identity("gw", "mod")};
  std::map<Identity, std::vector<std::string>> expected;
  std::mt19937 rng(7);
  int n = 0;
  while (n < 600) {
    std::vector<Message> batch;
    const int size = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < size; ++i, ++n) {
      const auto& w = who[rng() % who.size()];
      batch.push_back(message(w, "m" + std::to_string(n), 10 + rng() % 300));
      expected[w].push_back("m" + std::to_string(n));
    }
    commit(*f, std::move(batch));
  }
  for (const auto& w : who) {
    const auto got = peek_all(*f, w);
    EXPECT_EQ(ids(got), expected[w]) << w.client_id();
    for (std::size_t i = 1; i < got.size(); ++i)
      EXPECT_LT(got[i - 1].seq, got[i].seq);
  }
  // Everything a message carries comes back as it went in.
  const auto first = f->peek(who[2], 0, 1).at(0);
  const auto original = message(who[2], first.message.id, first.message.body->size());
  EXPECT_EQ(first.message.identity, who[2]);
  EXPECT_EQ(*first.message.body, *original.body);
  EXPECT_EQ(first.message.content_type, "application/json");
  EXPECT_EQ(first.message.content_encoding, "utf-8");
  EXPECT_EQ(first.message.properties, original.properties);
  EXPECT_EQ(first.message.created, original.created);
}

TEST_F(JournalFileTest, AckOfAMiddleRangeDeletesExactlyThatRangeOfThatIdentity) {
  auto f = open_file(store_config());
  const auto a = identity("a"), b = identity("b");
  std::vector<Message> batch;
  for (int i = 0; i < 10; ++i) {
    batch.push_back(message(a, "a" + std::to_string(i)));
    batch.push_back(message(b, "b" + std::to_string(i)));
  }
  commit(*f, std::move(batch));
  const auto all_a = f->peek(a, 0, 100);
  ASSERT_EQ(all_a.size(), 10u);
  // The range spans b's sequence numbers too (they interleave); only a's may go.
  const auto r = commit(*f, {}, {{a, all_a[3].seq, all_a[6].seq}});
  EXPECT_EQ(r.acked, 4u);
  EXPECT_EQ(ids(f->peek(a, 0, 100)),
            (std::vector<std::string>{"a0", "a1", "a2", "a7", "a8", "a9"}));
  EXPECT_EQ(f->peek(b, 0, 100).size(), 10u);
  ASSERT_EQ(r.depths.size(), 1u);
  EXPECT_EQ(r.depths[0].depth, 6u);
}

TEST_F(JournalFileTest, RestartKeepsUnacknowledgedWithTheirIdsAndSeqs) {
  std::vector<StoredMessage> before;
  {
    auto f = open_file(store_config());
    std::vector<Message> batch;
    for (int i = 0; i < 50; ++i)
      batch.push_back(message(identity("a"), "m" + std::to_string(i)));
    commit(*f, std::move(batch));
    const auto all = f->peek(identity("a"), 0, 100);
    commit(*f, {}, {{identity("a"), all[0].seq, all[19].seq}});
    before = f->peek(identity("a"), 0, 100);
    ASSERT_EQ(before.size(), 30u);
  }
  auto f = open_file(store_config());
  const auto after = f->peek(identity("a"), 0, 100);
  ASSERT_EQ(after.size(), 30u);
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].seq, before[i].seq);
    EXPECT_EQ(after[i].message.id, before[i].message.id);
  }
  ASSERT_EQ(f->depths().size(), 1u);
  EXPECT_EQ(f->depths()[0].depth, 30u);
  // New messages continue the sequence, never reuse it, even for acknowledged numbers.
  commit(*f, {message(identity("a"), "new")});
  EXPECT_GT(f->peek(identity("a"), before.back().seq + 1, 10).at(0).seq, before.back().seq);
}

// A second daemon started on the same state_dir by mistake must neither interleave its writes
// with the running one's nor take the file for damaged and move it aside.
TEST_F(JournalFileTest, AFileInUseIsRefusedToASecondOpenAndKept) {
  auto first = open_file(store_config());
  commit(*first, {message(identity("a"), "kept")});
  auto second = JournalFile::open(dir_.file("journal.db"), store_config(), clock_, probe_);
  EXPECT_FALSE(second.file);
  EXPECT_NE(second.error.find("locked"), std::string::npos) << second.error;
  EXPECT_TRUE(second.moved_aside.empty()) << second.moved_aside;
  EXPECT_EQ(ids(first->peek(identity("a"), 0, 10)), std::vector<std::string>{"kept"});
  commit(*first, {message(identity("a"), "still writable")});
  EXPECT_EQ(first->peek(identity("a"), 0, 10).size(), 2u);
}

TEST_F(JournalFileTest, SequenceNeverGoesBackEvenWhenTheNewestWasAcked) {
  Seq last = 0;
  {
    auto f = open_file(store_config());
    commit(*f, {message(identity("a"), "1"), message(identity("a"), "2")});
    const auto all = f->peek(identity("a"), 0, 10);
    last = all.back().seq;
    commit(*f, {}, {{identity("a"), all.front().seq, last}});
  }
  auto f = open_file(store_config());
  commit(*f, {message(identity("a"), "3")});
  EXPECT_GT(f->peek(identity("a"), 0, 10).at(0).seq, last);
}

// Appends `rounds` batches of `per_batch` 1 KiB messages, checking the bound after each.
struct FillResult {
  std::uint64_t attempted = 0;
  std::uint64_t refused = 0;
  std::uint64_t dropped = 0;
  std::uint64_t max_file = 0;
};

TEST_F(JournalFileTest, MaxSizeDropOldestEvictsTheOldestAndCountsEachOne) {
  auto c = store_config(2u << 20);
  auto f = open_file(c);
  const auto a = identity("a"), b = identity("b");
  FillResult fill;
  std::map<Identity, std::uint64_t> dropped_per;
  for (int round = 0; round < 40; ++round) {
    std::vector<Message> batch;
    for (int i = 0; i < 200; ++i) {
      const std::uint64_t n = fill.attempted++;
      batch.push_back(message(n % 3 == 0 ? b : a, std::to_string(n), 1024));
    }
    const auto r = commit(*f, std::move(batch));
    fill.refused += r.refused.size();
    fill.dropped += dropped(r, DropReason::max_size);
    for (const auto& d : r.drops)
      dropped_per[d.identity] += d.count;
    fill.max_file = std::max(fill.max_file, f->file_bytes());
  }
  const auto left_a = peek_all(*f, a, 1000), left_b = peek_all(*f, b, 1000);
  const std::uint64_t left = left_a.size() + left_b.size();
  EXPECT_LE(fill.max_file, c.max_size.bytes);
  EXPECT_EQ(fill.refused, 0u);
  EXPECT_GT(fill.dropped, 0u);
  EXPECT_EQ(fill.dropped, fill.attempted - left);  // exact: every missing message was counted
  EXPECT_EQ(dropped_per[a], 5333u - left_a.size());
  EXPECT_EQ(dropped_per[b], 2667u - left_b.size());
  EXPECT_GT(left, 700u);  // the bound is used, not wasted (the WAL takes its share)
  // Oldest went first: what is left is the newest, contiguous, suffix of each identity.
  EXPECT_EQ(left_a.back().message.id, "7999");
  std::uint64_t expect_next = std::stoull(left_a.front().message.id);
  for (const auto& m : left_a) {
    while (expect_next % 3 == 0)
      ++expect_next;
    EXPECT_EQ(m.message.id, std::to_string(expect_next));
    ++expect_next;
  }
}

// What the upstream holds (peeked: read ahead or in flight) may still reach the hub, so it is
// never what a full journal drops: the oldest messages nobody holds go instead, and the count
// stays the exact number that can never arrive.
TEST_F(JournalFileTest, HeldMessagesAreNotEvictedAndTheOldestUnheldGoInstead) {
  auto c = store_config(2u << 20);
  auto f = open_file(c);
  const auto a = identity("a"), b = identity("b");
  std::uint64_t n = 0;
  auto fill_round = [&] {
    std::vector<Message> batch;
    for (int i = 0; i < 200; ++i, ++n)
      batch.push_back(message(n % 2 == 0 ? a : b, std::to_string(n), 1024));
    return commit(*f, std::move(batch));
  };
  fill_round();
  const auto held = f->peek(a, 0, 20);  // a's first 20 are on their way to the hub
  ASSERT_EQ(held.size(), 20u);
  std::uint64_t drops_a = 0, drops_b = 0;
  for (int round = 0; round < 30; ++round) {
    for (const auto& d : fill_round().drops)
      (d.identity == a ? drops_a : drops_b) += d.count;
  }
  ASSERT_GT(drops_a, 0u) << "the journal never filled";
  const auto left_a = peek_all(*f, a, 1000);
  ASSERT_GE(left_a.size(), 20u);
  for (std::size_t i = 0; i < 20; ++i)
    EXPECT_EQ(left_a[i].message.id, held[i].message.id);
  // Behind the held ones, a's oldest went: the next one left is newer than every dropped one.
  EXPECT_EQ(std::stoull(left_a[20].message.id), 2 * (20 + drops_a));
  EXPECT_EQ(drops_a + left_a.size(), n / 2);  // exact: nothing held was counted
  const auto left_b = peek_all(*f, b, 1000);
  EXPECT_EQ(drops_b + left_b.size(), n / 2);
}

// A reader that follows an identity (the Journal keeps its new messages in memory for it) holds
// everything from the point it follows on, including messages committed later, and, for an
// identity that has none yet, from its first message on.
TEST_F(JournalFileTest, FollowedMessagesAreNotEvictedUntilUnfollowed) {
  auto c = store_config(2u << 20);
  auto f = open_file(c);
  const auto a = identity("a"), b = identity("b"), late = identity("late");
  std::map<std::string, std::uint64_t> sent, refused, dropped;
  std::uint64_t n = 0;
  auto fill_round = [&] {
    std::vector<Message> batch;
    std::map<AppendTicket, std::string> whose;
    for (int i = 0; i < 200; ++i, ++n) {
      const auto& who = n % 50 == 49 ? late : n % 2 == 0 ? a : b;
      batch.push_back(message(who, std::to_string(n), 1024));
      whose[ticket_ + static_cast<AppendTicket>(i) + 1] = who.client_id();
      ++sent[who.client_id()];
    }
    const auto r = commit(*f, std::move(batch));
    for (const auto t : r.refused)
      ++refused[whose.at(t)];
    for (const auto& d : r.drops)
      dropped[d.identity.client_id()] += d.count;
  };
  auto evicted = [&](const std::string& who) { return dropped[who] - refused[who]; };
  auto left = [&](const Identity& who) {  // without reading them: a read holds what it returns
    for (const auto& d : f->depths()) {
      if (d.identity == who) return d.depth;
    }
    return std::uint64_t{0};
  };

  f->follow(late, 0);  // before its first message: no id yet
  fill_round();
  const auto first = f->peek(a, 0, 10);
  ASSERT_EQ(first.size(), 10u);
  f->follow(a, first.back().seq + 1);  // a's reader has its first 10 and follows the rest
  for (int round = 0; round < 30; ++round)
    fill_round();
  ASSERT_GT(evicted("b"), 0u) << "the journal never filled";
  EXPECT_EQ(evicted("a"), 0u);
  EXPECT_EQ(evicted("late"), 0u);
  EXPECT_EQ(left(a), sent["a"] - refused["a"]);
  EXPECT_EQ(left(late), sent["late"] - refused["late"]);

  // Unfollowed, a keeps only what its reader was given (the first 10): the rest may go.
  f->unfollow(a, first.back().seq);
  for (int round = 0; round < 10; ++round)
    fill_round();
  ASSERT_GT(evicted("a"), 0u);
  const auto left_a = peek_all(*f, a, 100000);
  ASSERT_GE(left_a.size(), 10u);
  for (std::size_t i = 0; i < 10; ++i)
    EXPECT_EQ(left_a[i].message.id, first[i].message.id);
  EXPECT_EQ(left_a.size() + dropped["a"], sent["a"]);
}

TEST_F(JournalFileTest, ReleasedMessagesAreEvictedAgainAndHeldOnesOutliveMaxAge) {
  auto c = store_config();
  c.max_age = 1min;
  auto f = open_file(c);
  const auto a = identity("a");
  std::vector<Message> batch;
  for (int i = 0; i < 10; ++i)
    batch.push_back(message(a, "m" + std::to_string(i)));
  commit(*f, std::move(batch));
  ASSERT_EQ(f->peek(a, 0, 4).size(), 4u);  // m0..m3 held

  clock_.advance(61s);
  auto r = f->maintain();
  EXPECT_EQ(dropped(r, DropReason::expired), 6u);  // m4..m9; the held ones are being sent
  EXPECT_EQ(ids(f->peek(a, 0, 100)), (std::vector<std::string>{"m0", "m1", "m2", "m3"}));

  f->release(a);  // the session went offline: nothing of a is held any more
  r = f->maintain();
  EXPECT_EQ(dropped(r, DropReason::expired), 4u);
  EXPECT_TRUE(f->depths().empty());
}

TEST_F(JournalFileTest, MaxSizeRejectNewRefusesNewcomersAndCountsEachOne) {
  auto c = store_config(2u << 20);
  c.on_full = config::OnFull::reject_new;
  auto f = open_file(c);
  FillResult fill;
  for (int round = 0; round < 30; ++round) {
    std::vector<Message> batch;
    for (int i = 0; i < 200; ++i) {
      batch.push_back(message(identity("a"), std::to_string(fill.attempted++), 1024));
    }
    const auto r = commit(*f, std::move(batch));
    fill.refused += r.refused.size();
    fill.dropped += dropped(r, DropReason::max_size);
    fill.max_file = std::max(fill.max_file, f->file_bytes());
  }
  const auto left = peek_all(*f, identity("a"), 1000);
  EXPECT_LE(fill.max_file, c.max_size.bytes);
  EXPECT_GT(fill.refused, 0u);
  EXPECT_EQ(fill.refused, fill.dropped);
  EXPECT_EQ(fill.refused, fill.attempted - left.size());
  // The oldest stay: a contiguous prefix.
  for (std::size_t i = 0; i < left.size(); ++i)
    EXPECT_EQ(left[i].message.id, std::to_string(i));
  // Once acks make room, new messages are taken again.
  commit(*f, {}, {{identity("a"), left.front().seq, left[left.size() / 2].seq}});
  const auto r = commit(*f, {message(identity("a"), "after-ack", 1024)});
  EXPECT_TRUE(r.refused.empty());
}

TEST_F(JournalFileTest, MinFreeKeepsTheFilesystemsFreeSpaceAndCountsEachDrop) {
  auto c = store_config(64u << 20);
  c.min_free = {16u << 20};
  // A small filesystem holding only the journal: what the journal's files take is gone from it.
  const std::uint64_t capacity = (16u << 20) + (8u << 20);
  auto used = [this] {
    std::uint64_t n = 0;
    for (const char* suffix : {"", "-wal"}) {
      std::error_code ec;
      const auto size = std::filesystem::file_size(dir_.file("journal.db") + suffix, ec);
      n += ec ? 0 : size;
    }
    return n;
  };
  probe_.model = [&] { return capacity - std::min(capacity, used()); };
  auto f = open_file(c);
  const std::uint64_t start = used();
  std::uint64_t attempted = 0, dropped_min_free = 0, dropped_other = 0, least_free = capacity;
  for (int round = 0; round < 40; ++round) {
    std::vector<Message> batch;
    for (int i = 0; i < 200; ++i) {
      batch.push_back(message(identity("a"), std::to_string(attempted++), 1024));
    }
    const auto r = commit(*f, std::move(batch));
    dropped_min_free += dropped(r, DropReason::min_free);
    dropped_other += dropped(r, DropReason::max_size);
    least_free = std::min(least_free, capacity - std::min(capacity, used()));
  }
  const auto left = peek_all(*f, identity("a"), 1000).size();
  EXPECT_GT(probe_.calls, 0);
  EXPECT_GE(least_free, c.min_free.bytes);  // never ate into the space kept free
  EXPECT_GT(used(), start + (2u << 20));    // but did use what was above it
  EXPECT_GT(dropped_min_free, 0u);
  EXPECT_EQ(dropped_other, 0u);
  EXPECT_EQ(dropped_min_free, attempted - left);  // exact: every missing message was counted

  // Space is freed elsewhere on the filesystem: nothing more is dropped.
  probe_.model = nullptr;
  probe_.available = 1u << 30;
  std::vector<Message> batch;
  for (int i = 0; i < 200; ++i)
    batch.push_back(message(identity("a"), "more", 1024));
  const auto r = commit(*f, std::move(batch));
  EXPECT_TRUE(r.drops.empty());
}

TEST_F(JournalFileTest, TheFileIsAllocatedAheadOfItsPagesWithinTheBound) {
  auto c = store_config(8u << 20);
  auto f = open_file(c);
  commit(*f, {message(identity("a"), "one")});
  const auto pages = f->db().query_int("PRAGMA page_count");
  const auto physical = std::filesystem::file_size(dir_.file("journal.db"));
  // A checkpoint can then always copy the WAL back without growing the file (see reserve_ahead).
  EXPECT_GT(physical, static_cast<std::uintmax_t>(pages * 4096 + (64u << 10)));
  EXPECT_LE(physical + std::filesystem::file_size(dir_.file("journal.db-wal")), c.max_size.bytes);
  EXPECT_LE(f->file_bytes(), c.max_size.bytes);
}

TEST_F(JournalFileTest, AFullDiskIsSurvivedByReusingSpaceAndEveryDropIsCounted) {
  FullDiskVfs::install();
  FullDiskVfs::set_free_bytes(FullDiskVfs::kUnlimited);
  auto opened = JournalFile::open(dir_.file("journal.db"), store_config(), clock_, probe_,
                                  FullDiskVfs::kName);
  ASSERT_TRUE(opened.file) << opened.error;
  auto& f = *opened.file;
  std::uint64_t attempted = 0, acked = 0, drops = 0, refused = 0, failed_commits = 0,
                on_free_space = 0;
  auto fill = [&](int rounds) {
    for (int round = 0; round < rounds; ++round) {
      JournalFile::Batch b;
      for (int i = 0; i < 200; ++i) {
        b.appends.push_back({++ticket_, message(identity("a"), std::to_string(attempted++), 1024)});
      }
      const auto r = f.commit(b);
      failed_commits += r.ok ? 0 : 1;
      refused += r.refused.size();
      for (const auto& d : r.drops)
        drops += d.count;
      on_free_space += dropped(r, DropReason::min_free);
    }
  };
  fill(20);
  const auto all = f.peek(identity("a"), 0, 100000);
  acked = all.size() / 2;
  commit(f, {}, {{identity("a"), all.front().seq, all[acked - 1].seq}});

  FullDiskVfs::set_free_bytes(0);  // someone else filled the disk
  fill(30);
  const auto left = f.peek(identity("a"), 0, 100000);
  EXPECT_GT(FullDiskVfs::refused_writes(), 0u);       // the fault was really hit
  EXPECT_EQ(failed_commits, 0u);                      // and every commit still went through
  EXPECT_EQ(drops, attempted - acked - left.size());  // exact: every missing message counted
  EXPECT_EQ(on_free_space, drops);  // and blamed on the filesystem, not on max_size
  EXPECT_EQ(refused, 0u);           // drop-oldest: the newcomers got the room
  EXPECT_EQ(left.back().message.id, std::to_string(attempted - 1));  // the newest are kept
  EXPECT_GE(FullDiskVfs::free_bytes(), 0);

  FullDiskVfs::set_free_bytes(FullDiskVfs::kUnlimited);
  std::vector<Message> more;
  for (int i = 0; i < 200; ++i)
    more.push_back(message(identity("a"), "more", 1024));
  EXPECT_TRUE(commit(f, std::move(more)).drops.empty());
}

TEST_F(JournalFileTest, MaxAgeExpiresByJournalTimeWithExactCountsPerIdentity) {
  auto c = store_config();
  c.max_age = 1min;
  auto f = open_file(c);
  std::vector<Message> old;
  for (int i = 0; i < 10; ++i)
    old.push_back(message(identity("a"), "old" + std::to_string(i)));
  commit(*f, std::move(old));
  clock_.advance(30s);
  std::vector<Message> young;
  for (int i = 0; i < 5; ++i)
    young.push_back(message(identity("a"), "young" + std::to_string(i)));
  for (int i = 0; i < 3; ++i)
    young.push_back(message(identity("b"), "b" + std::to_string(i)));
  commit(*f, std::move(young));

  clock_.advance(29s);
  EXPECT_TRUE(f->maintain().drops.empty());  // 59 s: nothing is older than a minute yet

  clock_.advance(2s);
  auto r = f->maintain();
  ASSERT_EQ(r.drops.size(), 1u);
  EXPECT_EQ(r.drops[0].identity, identity("a"));
  EXPECT_EQ(r.drops[0].reason, DropReason::expired);
  EXPECT_EQ(r.drops[0].count, 10u);
  EXPECT_EQ(f->peek(identity("a"), 0, 100).size(), 5u);
  EXPECT_EQ(f->peek(identity("b"), 0, 100).size(), 3u);
  f->release(identity("a"));  // the peeks above hold what they saw
  f->release(identity("b"));

  clock_.advance(30s);
  r = f->maintain();
  EXPECT_EQ(dropped(r, DropReason::expired), 8u);
  EXPECT_TRUE(f->depths().empty());
}

TEST_F(JournalFileTest, SpaceIsReusedAfterAcksAndGivenBackAfterADrain) {
  auto f = open_file(store_config());
  auto fill = [&](const std::string& tag) {
    for (int round = 0; round < 10; ++round) {
      std::vector<Message> batch;
      for (int i = 0; i < 500; ++i)
        batch.push_back(message(identity("a"), tag, 200));
      commit(*f, std::move(batch));
    }
  };
  auto ack_all = [&] {
    const auto all = f->peek(identity("a"), 0, 100000);
    commit(*f, {}, {{identity("a"), all.front().seq, all.back().seq}});
  };
  fill("first");
  f->db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  const auto pages_full = f->db().query_int("PRAGMA page_count");
  ack_all();
  fill("second");  // goes into the pages the first fill freed
  f->db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  EXPECT_LE(f->db().query_int("PRAGMA page_count"), pages_full * 11 / 10);
  ack_all();
  f->maintain();  // a drained journal gives most of its pages back to the filesystem
  f->db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  EXPECT_LT(f->db().query_int("PRAGMA page_count"), pages_full / 2);
}

TEST_F(JournalFileTest, GarbageFileIsMovedAsideAndANewJournalStarted) {
  {
    std::ofstream out(dir_.file("journal.db"), std::ios::binary);
    out << std::string(8192, '\x5a');
  }
  auto f = open_file(store_config());
  ASSERT_TRUE(f);
  const std::regex name(".*/journal\\.db\\.corrupt-\\d{8}T\\d{6}Z$");
  EXPECT_TRUE(std::regex_match(moved_aside_, name)) << moved_aside_;
  EXPECT_EQ(std::filesystem::file_size(moved_aside_), 8192u);
  commit(*f, {message(identity("a"), "works")});
  EXPECT_EQ(f->peek(identity("a"), 0, 10).size(), 1u);
}

TEST_F(JournalFileTest, DamagedPagesAreFoundAtOpenAndTheFileMovedAside) {
  {
    auto f = open_file(store_config());
    for (int round = 0; round < 4; ++round) {
      std::vector<Message> batch;
      for (int i = 0; i < 500; ++i)
        batch.push_back(message(identity("a"), "m", 300));
      commit(*f, std::move(batch));
    }
    f->db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  {
    // Keep the header page intact so SQLite still opens it; scribble over the b-tree pages.
    std::fstream io(dir_.file("journal.db"), std::ios::binary | std::ios::in | std::ios::out);
    io.seekp(4096 * 3);
    std::mt19937 rng(1);
    std::string noise(4096 * 20, '\0');
    for (auto& ch : noise)
      ch = static_cast<char>(rng());
    io.write(noise.data(), static_cast<std::streamsize>(noise.size()));
  }
  auto f = open_file(store_config());
  ASSERT_TRUE(f);
  EXPECT_FALSE(moved_aside_.empty());
  EXPECT_TRUE(f->depths().empty());
}

TEST_F(JournalFileTest, AFileThatRotsWhileRunningIsMovedAsideAndTheBatchKept) {
  FullDiskVfs::install();
  FullDiskVfs::set_free_bytes(FullDiskVfs::kUnlimited);
  auto opened = JournalFile::open(dir_.file("journal.db"), store_config(), clock_, probe_,
                                  FullDiskVfs::kName);
  ASSERT_TRUE(opened.file) << opened.error;
  auto& f = *opened.file;
  std::vector<Message> first;
  for (int i = 0; i < 500; ++i)
    first.push_back(message(identity("a"), "old", 300));
  commit(f, std::move(first));
  // Everything into the database file and out of SQLite's cache, so the next reads hit the disk.
  f.db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  sqlite3_db_release_memory(f.db().handle());
  FullDiskVfs::rot_open_databases();

  JournalFile::Batch b;
  b.appends.push_back({++ticket_, message(identity("a"), "new")});
  const auto r = f.commit(b);
  EXPECT_TRUE(r.ok) << r.error;
  const std::regex name(".*/journal\\.db\\.corrupt-\\d{8}T\\d{6}Z$");
  EXPECT_TRUE(std::regex_match(r.moved_aside, name)) << r.moved_aside;
  EXPECT_TRUE(std::filesystem::exists(r.moved_aside));
  EXPECT_TRUE(r.refused.empty());
  const auto left = f.peek(identity("a"), 0, 10);
  ASSERT_EQ(left.size(), 1u);  // the new file holds the batch that found the damage
  EXPECT_EQ(left[0].message.id, "new");
}

TEST_F(JournalFileTest, NewerSchemaIsMovedAsideInsteadOfCrashLooping) {
  {
    auto f = open_file(store_config());
    f->db().exec("PRAGMA user_version = 99");
  }
  auto f = open_file(store_config());
  ASSERT_TRUE(f);
  EXPECT_FALSE(moved_aside_.empty());
  EXPECT_EQ(f->db().query_int("PRAGMA user_version"), JournalFile::kSchemaVersion);
}

TEST_F(JournalFileTest, UnwritableDirectoryIsAnErrorValueNotACrash) {
  auto opened =
      JournalFile::open(dir_.file("missing/dir/journal.db"), store_config(), clock_, probe_);
  EXPECT_FALSE(opened.file);
  EXPECT_NE(opened.error.find("cannot open journal"), std::string::npos) << opened.error;
}

Command c2d(const std::string& target, const std::string& payload) {
  return Command{.kind = Command::Kind::c2d,
                 .target = *SourceAddress::parse(target),
                 .name = {},
                 .payload = payload,
                 .properties = {{"p", "1"}},
                 .request_id = "msg-" + payload,
                 .deadline = {}};
}

TEST_F(JournalFileTest, DownlinkCommandIsRetriedWhileUnreachableAndDroppedAtExpiry) {
  const auto expires = clock_.wall_now() + 2min;
  std::int64_t id = 0;
  {
    auto f = open_file(store_config());
    std::string error;
    id = f->put_command(c2d("modbus://line/3", "open-valve"), expires, error);
    ASSERT_GT(id, 0) << error;
    auto due = f->due_commands(10);
    ASSERT_EQ(due.size(), 1u);
    EXPECT_EQ(due[0].command.payload, "open-valve");
    EXPECT_EQ(due[0].command.target.str(), "modbus://line/3");
    EXPECT_EQ(due[0].command.request_id, "msg-open-valve");
    EXPECT_EQ(due[0].command.properties, (Properties{{"p", "1"}}));
    EXPECT_EQ(due[0].command.deadline, clock_.now() + 2min);
    // The device is asleep: try again in 30 s.
    EXPECT_TRUE(f->command_attempted(id, clock_.wall_now() + 30s));
    EXPECT_TRUE(f->due_commands(10).empty());
  }
  auto f = open_file(store_config());  // a restart does not lose it
  clock_.advance(30s);
  auto due = f->due_commands(10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].attempts, 1u);
  EXPECT_TRUE(f->command_attempted(id, clock_.wall_now() + 30s));

  clock_.advance(89s);
  EXPECT_TRUE(f->maintain().downlink_expired.empty());
  clock_.advance(1s);
  EXPECT_TRUE(f->due_commands(10).empty());  // expired ones are never handed out
  const auto r = f->maintain();
  ASSERT_EQ(r.downlink_expired.size(), 1u);
  EXPECT_EQ(r.downlink_expired[0].first, "modbus://line/3");
  EXPECT_EQ(r.downlink_expired[0].second, 1u);
  EXPECT_EQ(f->command_count(), 0u);
}

TEST_F(JournalFileTest, DeliveredDownlinkCommandIsDeleted) {
  auto f = open_file(store_config());
  std::string error;
  const auto first = f->put_command(c2d("ble://tags/AA:BB", "one"), clock_.wall_now() + 1h, error);
  const auto second = f->put_command(c2d("ble://tags/AA:BB", "two"), clock_.wall_now() + 1h, error);
  EXPECT_TRUE(f->command_done(first));
  EXPECT_FALSE(f->command_done(first));
  const auto due = f->due_commands(10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].id, second);
}

}  // namespace
}  // namespace fieldlink
