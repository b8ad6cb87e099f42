#pragma once
// Where the upstream takes telemetry from: the journal in the daemon, an in-memory queue in
// tests. Messages of one identity carry increasing sequence numbers; a message stays until it is
// acknowledged (or rejected as unsendable), so after a lost connection the upstream simply asks
// again from the oldest one that was in flight.
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "core/message.hpp"

namespace fieldlink::hub {

class Outbox {
 public:
  struct Entry {
    std::uint64_t seq = 0;
    Message message;
  };
  virtual ~Outbox() = default;

  // Up to `max` unacknowledged messages of `identity` with seq ≥ `from_seq`, oldest first.
  // `done` runs on the core loop (possibly later, when the store works on its own lane).
  virtual void peek(const Identity& identity, std::uint64_t from_seq, std::size_t max,
                    std::function<void(std::vector<Entry>)> done) = 0;
  virtual void ack(const Identity& identity, std::uint64_t seq) = 0;
  // The upstream holds none of `identity`'s peeked messages any more (its session is offline and
  // its read-ahead gone). An outbox that evicts under a full disk skips held messages, so that a
  // message it counts as dropped never reaches the hub.
  virtual void release(const Identity&) {}
  // The hub can never take this message (e.g. over 256 KB): drop it and count it.
  virtual void reject(const Identity& identity, std::uint64_t seq, std::string_view reason) = 0;
};

}  // namespace fieldlink::hub
