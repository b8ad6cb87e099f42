#pragma once
// The contract between the gateway and one protocol adapter (design.md §1, §9).
// Thread: every member is called on the core loop. An adapter that blocks (libmodbus, serial
// reads) does so on its own lane and posts results back; nothing here may block.
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
