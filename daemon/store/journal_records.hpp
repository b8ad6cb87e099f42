#pragma once
// The vocabulary the journal speaks with its users: sequence numbers, tickets, drop reasons, and
// what a group commit reports. Plain values, cheap to move between the lane and the core loop.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/command.hpp"
#include "core/ids.hpp"
#include "core/message.hpp"

namespace fieldlink {

// Position of a telemetry message in the journal. Strictly increasing in append order, per
// identity and globally (so gaps between one identity's numbers are normal), never reused; the
// first is 1. Unsigned like hub::Outbox's sequence numbers, which it is meant to fill.
using Seq = std::uint64_t;
// Number of an append in this process, in call order; "decided through T" covers every earlier one.
using AppendTicket = std::uint64_t;

// Why a message left the journal without an ack (or never entered it). Space drops name the bound
// that was hit; under `on_full: reject-new` they are the refused newcomers, under `drop-oldest` the
// evicted oldest. `intake_full`: appends refused because more than the intake bound were waiting
// for their group commit (the disk is slower than the input).
// `rejected`: the upstream said the hub can never take the message (e.g. too large).
enum class DropReason : std::uint8_t {
  expired,
  max_size,
  min_free,
  write_failed,
  intake_full,
  rejected
};
inline constexpr std::size_t kDropReasonCount = 6;

constexpr std::string_view to_string(DropReason r) {
  switch (r) {
    case DropReason::expired:
      return "expired";
    case DropReason::max_size:
      return "max_size";
    case DropReason::min_free:
      return "min_free";
    case DropReason::write_failed:
      return "write_failed";
    case DropReason::intake_full:
      return "intake_full";
    case DropReason::rejected:
      return "rejected";
  }
  return "unknown";
}

struct StoredMessage {
  Seq seq = 0;
  Message message;  // identity, id, created and body exactly as appended
};

// Acknowledges every message of `identity` with first <= seq <= last (one id: first == last).
struct AckRange {
  Identity identity;
  Seq first = 0;
  Seq last = 0;
};

struct DropCount {
  Identity identity;
  DropReason reason = DropReason::expired;
  std::uint64_t count = 0;
};

struct IdentityDepth {
  Identity identity;
  std::uint64_t depth = 0;                       // 0: nothing left for this identity
  std::chrono::system_clock::time_point oldest;  // when the oldest remaining one was journaled
};

// A downlink command waiting in the journal for its device.
struct QueuedCommand {
  std::int64_t id = 0;
  Command command;
  std::chrono::system_clock::time_point expires;
  std::uint32_t attempts = 0;  // delivery attempts that found the device unreachable
};

// What one group commit (or maintenance pass) on the lane did; posted back to the core loop.
struct CommitReport {
  bool ok = true;                     // false: the write failed; `refused` holds the whole batch
  std::string error;                  // SQLite's message when !ok
  AppendTicket through = 0;           // every append with ticket <= through is decided
  std::vector<AppendTicket> refused;  // appends not stored (reject-new, write failure); counted
  // The stored appends got consecutive numbers from here, in ticket order (refused ones none).
  Seq first_seq = 0;
  std::vector<Identity> fresh;  // identities with newly committed messages to peek
  std::vector<DropCount> drops;
  std::vector<IdentityDepth> depths;  // identities whose depth or oldest changed
  std::uint64_t appended = 0;
  std::uint64_t acked = 0;  // rows deleted by acks
  // Downlink commands dropped at their expiry, per target source address.
  std::vector<std::pair<std::string, std::uint64_t>> downlink_expired;
  std::uint64_t file_bytes = 0;  // database plus its WAL
  std::chrono::nanoseconds commit_time{0};
  std::string moved_aside;  // a corrupt file found and moved aside during this call
};

}  // namespace fieldlink
