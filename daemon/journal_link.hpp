#pragma once
// The journal as the router and the upstream see it: the router appends telemetry and queues C2D
// messages for their devices, the upstream reads telemetry in order per identity and acknowledges
// it on PUBACK, and each group commit tells the upstream which identities have something new.
// Thread: the core loop.
#include "hub/outbox.hpp"
#include "hub/upstream.hpp"
#include "router/router.hpp"
#include "store/journal.hpp"

namespace fieldlink {

class JournalLink final : public TelemetryIntake, public CommandQueue, public hub::Outbox {
 public:
  explicit JournalLink(Journal& journal) : journal_(journal) {}

  // Wakes the upstream for identities with newly committed messages, then tells `settled` that
  // the journal's intake has room again and which appends are decided (CommitReport::through).
  void connect(hub::Upstream& upstream, std::function<void(AppendTicket through)> settled) {
    journal_.on_commit([&upstream, settled = std::move(settled)](const CommitReport& report) {
      for (const auto& identity : report.fresh)
        upstream.notify(identity);
      settled(report.through);
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
  void release(const Identity& identity) override { journal_.release(identity); }
  void reject(const Identity& identity, std::uint64_t seq, std::string_view reason) override {
    journal_.reject(identity, seq, reason);
  }

  void put(Command command, std::chrono::system_clock::time_point expires,
           std::function<void(std::int64_t, const std::string&)> stored) override {
    journal_.put_command(std::move(command), expires, std::move(stored));
  }
  void due(std::size_t max, std::function<void(std::vector<QueuedCommand>)> done) override {
    journal_.due_commands(max, std::move(done));
  }
  void attempted(std::int64_t id, std::chrono::system_clock::time_point retry_at) override {
    journal_.command_attempted(id, retry_at);
  }
  void done(std::int64_t id) override { journal_.command_done(id); }

 private:
  Journal& journal_;
};

}  // namespace fieldlink
