#pragma once
// One Modbus bus (a TCP endpoint or a serial line) driven on its own lane: it owns the link,
// polls by the BusScheduler one request at a time, runs queued commands before the next poll,
// reconnects with backoff, and reports readings, counters and transitions through BusEvents.
// Thread: every member runs on the bus's lane (create, then only post to it). BusEvents are
// called on the lane and must only hand over (post) to the core loop.
#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/modbus/bus_scheduler.hpp"
#include "adapters/modbus/modbus_link.hpp"
#include "adapters/modbus/modbus_settings.hpp"
#include "adapters/modbus/poll_plan.hpp"
#include "adapters/modbus/report_filter.hpp"
#include "core/clock.hpp"
#include "core/reading.hpp"

namespace fieldlink::modbus {

struct DeviceCounters {
  std::uint64_t polls = 0;
  std::uint64_t requests = 0;
  std::uint64_t registers = 0;  // registers and bits read
  std::uint64_t exceptions = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t bad_frames = 0;
  std::uint64_t link_errors = 0;
  std::uint64_t skipped = 0;  // polls that fell due while the bus was busy, not run
  std::uint64_t writes = 0;
  std::uint64_t failed_writes = 0;
  UnitBreaker::State state = UnitBreaker::State::unknown;
  std::chrono::milliseconds backoff{0};
  std::optional<std::chrono::system_clock::time_point> last_seen;
  std::string last_error;
};

class BusEvents {
 public:
  virtual ~BusEvents() = default;
  virtual void reading(Reading reading) = 0;
  virtual void counters(size_t device, const DeviceCounters& counters) = 0;
  // A device went online or offline; `why` says what it last did.
  virtual void transition(size_t device, UnitBreaker::State state, const std::string& why) = 0;
  virtual void link(bool up, bool warning, const std::string& message) = 0;
};

struct WriteItem {
  size_t point = 0;
  std::vector<std::uint16_t> words;  // encoded registers, or 0/1 per coil
};

struct JobResult {
  std::vector<LinkStatus> writes;                     // one per WriteItem, in order
  std::vector<std::pair<std::string, Value>> values;  // a read job's values
  LinkStatus read;                                    // a read job's first failure
  std::chrono::system_clock::time_point sampled_at{};
};

struct BusJob {
  enum class Kind { write, read };
  Kind kind = Kind::write;
  size_t device = 0;
  std::vector<WriteItem> writes;
  std::chrono::steady_clock::time_point deadline;
  std::function<void(JobResult)> done;  // called once, on the lane
};

class ModbusBus : public std::enable_shared_from_this<ModbusBus> {
 public:
  static constexpr size_t kMaxQueuedJobs = 32;

  ModbusBus(std::shared_ptr<const ModbusSettings> settings, std::vector<PollPlan> plans,
            std::unique_ptr<ModbusLink> link, const Clock& clock,
            boost::asio::io_context::executor_type lane, std::shared_ptr<BusEvents> events);

  void start();
  // Stops polling and closes the link; queued jobs are answered as not attempted.
  void stop();
  // Queues a command; false when the queue is full (the caller answers it).
  bool submit(BusJob job);

 private:
  void schedule_step();
  void step();
  void wait_until(std::chrono::steady_clock::time_point at);
  void poll(size_t group);
  void run(BusJob& job);
  LinkStatus ensure_link();
  void account(size_t device, const LinkStatus& s);
  void pause_between_requests();
  void publish(size_t device);

  std::shared_ptr<const ModbusSettings> settings_;
  std::vector<PollPlan> plans_;
  std::unique_ptr<ModbusLink> link_;
  const Clock& clock_;
  boost::asio::io_context::executor_type lane_;
  std::shared_ptr<BusEvents> events_;
  std::vector<std::pair<size_t, size_t>> groups_;  // scheduler group → (device, plan group)
  BusScheduler scheduler_;
  std::vector<ReportFilter> filters_;
  std::vector<SourceAddress> sources_;
  std::vector<DeviceCounters> counters_;
  std::deque<BusJob> jobs_;
  boost::asio::steady_timer timer_;
  std::uint64_t wait_generation_ = 0;
  bool waiting_ = false;  // the step chain is parked on timer_ (else a step is posted)
  bool running_ = false;
  bool link_down_reported_ = false;
  std::chrono::milliseconds reconnect_backoff_{0};
  std::chrono::steady_clock::time_point reconnect_at_{};
};

}  // namespace fieldlink::modbus
