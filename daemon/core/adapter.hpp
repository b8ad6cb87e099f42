#pragma once
// The contract between the gateway and one protocol adapter (design.md §1, §9).
// Thread: every member is called on the core loop. An adapter that blocks (libmodbus, serial
// reads) does so on its own lane and posts results back; nothing here may block.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/clock.hpp"
#include "core/command.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/reading.hpp"

namespace boost::asio {
class io_context;
}

namespace fieldlink {

class Lane;

// Where readings go. Never blocks: when the journal's intake is full the push is refused and the
// adapter decides (skip the poll and count it, or stop reading its socket).
class ReadingSink {
 public:
  enum class Result { accepted, backpressure };
  virtual ~ReadingSink() = default;
  virtual Result push(Reading reading) = 0;

  // Durability marks, for an adapter that can keep its device's acknowledgement back until the
  // readings are in the journal (the MQTT adapter holds each PUBACK; a kill then loses nothing
  // the broker gave up). Any thread. `mark()`, read after a push, covers that push and every
  // earlier one; `durable()` is the highest mark whose readings a journal commit has decided
  // (stored, or refused and counted as a drop). The default sink keeps nothing in memory: every
  // mark is durable at once.
  virtual std::uint64_t mark() const { return 0; }
  virtual std::uint64_t durable() const { return 0; }
  // Calls `advanced` on the core loop whenever durable() grows, for as long as the returned
  // handle lives (destroy it on the core loop).
  virtual std::shared_ptr<void> watch_durable(std::function<void()> advanced) {
    (void)advanced;
    return nullptr;
  }
  // An adapter holds acknowledgements its device needs back (a broker sends only so many
  // unacknowledged messages): commit what is waiting now rather than at the commit interval.
  virtual void hurry() {}
};

struct AdapterContext {
  boost::asio::io_context& loop;  // the core loop
  ReadingSink& sink;
  Logger& log;
  const Clock& clock;
  std::function<std::unique_ptr<Lane>(std::string name)> make_lane;
};

class Adapter {
 public:
  using OutcomeHandler = std::function<void(Outcome)>;
  virtual ~Adapter() = default;

  virtual const AdapterName& name() const = 0;
  virtual void start() = 0;
  // Stops polling and closes links; `done` runs on the core loop once nothing is in flight.
  virtual void stop(std::function<void()> done) = 0;
  // Carries out a downlink command on the device; `handler` runs exactly once, on the core loop.
  virtual void execute(const Command& command, OutcomeHandler handler) = 0;
  // The adapter's part of /status: its devices, their state and counters.
  virtual void describe(nlohmann::json& out) const = 0;
};

}  // namespace fieldlink
