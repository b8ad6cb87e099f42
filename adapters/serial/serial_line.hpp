#pragma once
// One serial port on the core loop through boost::asio::serial_port (non-blocking; no thread per
// port). Opens the port, applies the line settings (a setting the port refuses — a PTY's baud or
// RS-485 ioctl — is a warning, not a failure), keeps one read outstanding, writes queued byte
// strings in order, and when the port fails or vanishes (USB unplug: EIO/ENODEV) closes it and
// reopens it with a doubling backoff up to backoff_max, for as long as it runs.
// Thread: core loop only. Ownership: shared; handlers hold it alive until they have run, and the
// events target is held weakly, so the owner may go away with operations still cancelling.
#include <utility>  // before asio, for Boost 1.74 under C++20

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/serial_port.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "adapters/serial/serial_settings.hpp"

namespace fieldlink::serial {

class SerialLineEvents {
 public:
  virtual ~SerialLineEvents() = default;
  virtual void line_opened() = 0;
  virtual void line_bytes(std::string_view bytes) = 0;
  // The port could not be opened or went away; `first` is false for repeats of the same state.
  virtual void line_down(const std::string& why, bool first) = 0;
  virtual void line_warning(const std::string& message) = 0;
};

class SerialLine : public std::enable_shared_from_this<SerialLine> {
 public:
  static constexpr std::size_t kMaxQueuedWrites = 16;

  SerialLine(boost::asio::io_context& loop, std::shared_ptr<const SerialSettings> settings,
             std::weak_ptr<SerialLineEvents> events);

  void start();
  void stop();  // closes the port; no event is delivered afterwards
  bool is_open() const { return port_.is_open(); }
  // Called once the bytes are on the port (true), or with why they are not (false). Not called
  // when the port goes away or stops first: line_down (or stop) says so for everything queued.
  using WriteDone = std::function<void(bool ok, const std::string& why)>;
  // Queues bytes for writing; false when the port is closed or kMaxQueuedWrites are waiting.
  bool write(std::string bytes, WriteDone done = {});
  std::chrono::milliseconds next_backoff() const { return backoff_; }
  std::uint64_t opens() const { return opens_; }  // successful opens so far

 private:
  void try_open();
  void configure();
  void read();
  void write_next();
  void fail(const std::string& why);
  void warn(const std::string& message);

  std::shared_ptr<const SerialSettings> settings_;
  std::weak_ptr<SerialLineEvents> events_;
  boost::asio::serial_port port_;
  boost::asio::steady_timer reopen_timer_;
  std::array<char, 512> buffer_{};
  struct PendingWrite {
    std::string bytes;
    WriteDone done;
  };
  std::deque<PendingWrite> writes_;
  bool writing_ = false;
  bool stopped_ = false;
  bool down_reported_ = false;
  std::chrono::milliseconds backoff_{100};
  std::uint64_t opens_ = 0;
  std::set<std::string> warned_;  // each distinct refusal is logged once, not on every reopen
};

}  // namespace fieldlink::serial
