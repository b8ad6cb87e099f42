#pragma once
// The journal as the router and the upstream see it: the router appends telemetry, the upstream
// reads it in order per identity and acknowledges it on PUBACK, and each group commit tells the
// upstream which identities have something new to send.
// Thread: the core loop.
#include "hub/outbox.hpp"
#include "hub/upstream.hpp"
#include "router/router.hpp"
#include "store/journal.hpp"

namespace fieldlink {

class JournalLink final : public TelemetryIntake, public hub::Outbox {
 public:
  explicit JournalLink(Journal& journal) : journal_(journal) {}

  // Wakes the upstream for identities with newly committed messages.
  void connect(hub::Upstream& upstream) {
    journal_.on_commit([&upstream](const CommitReport& report) {
      for (const auto& identity : report.fresh)
        upstream.notify(identity);
    });
  }

  bool append(Message message) override { return journal_.append(std::move(message)).has_value(); }

  void peek(const Identity& identity, std::uint64_t from_seq, std::size_t max,
            std::function<void(std::vector<Entry>)> done) override {
    journal_.peek(identity, from_seq, max,
                  [done = std::move(done)](std::vector<StoredMessage> stored) {
                    std::vector<Entry> entries;
                    entries.reserve(stored.size());
                    for (auto& s : stored)
                      entries.push_back({s.seq, std::move(s.message)});
                    done(std::move(entries));
                  });
  }
  void ack(const Identity& identity, std::uint64_t seq) override { journal_.ack(identity, seq); }
  void reject(const Identity& identity, std::uint64_t seq, std::string_view reason) override {
    journal_.reject(identity, seq, reason);
  }

 private:
  Journal& journal_;
};

}  // namespace fieldlink
