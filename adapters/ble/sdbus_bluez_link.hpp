#pragma once
// BluezLink over the system D-Bus with sdbus-c++ (libsdbus-c++ 1.2). One thread owns the bus
// connection, its proxies and every sdbus-c++ call, and runs the connection's event loop itself
// (poll on the bus fd and a wake-up eventfd), so sdbus-c++ is never used from two threads.
// Calls from the core loop are queued to that thread (bounded; a full queue fails the call at
// once); replies and signals are posted back to the core loop.
// The bus address comes from DBUS_SYSTEM_BUS_ADDRESS (sd-bus's own rule), which the tests point
// at a private bus. When the bus or org.bluez goes away the thread reports it, fails what was in
// flight, and reconnects with a capped backoff.
#include <memory>

#include "adapters/ble/bluez_link.hpp"

namespace boost::asio {
class io_context;
}

namespace fieldlink::ble {

class SdbusBluezLink final : public BluezLink {
 public:
  explicit SdbusBluezLink(boost::asio::io_context& loop);
  ~SdbusBluezLink() override;

  void start(BluezEvents& events) override;
  void stop() override;

  void connect(const std::string& device, std::chrono::milliseconds timeout, Done) override;
  void disconnect(const std::string& device, Done) override;
  void read_value(const std::string& chr, std::chrono::milliseconds timeout, Done) override;
  void write_value(const std::string& chr, const Bytes& value, std::uint16_t offset, WriteType type,
                   std::chrono::milliseconds timeout, Done) override;
  void start_notify(const std::string& chr, std::chrono::milliseconds timeout, Done) override;
  void start_discovery(const std::string& controller, const std::vector<std::string>& uuids,
                       Done) override;
  void stop_discovery(const std::string& controller, Done) override;

 private:
  class Thread;  // the bus thread and everything it owns
  void refuse(Done done);
  std::shared_ptr<Thread> thread_;
};

}  // namespace fieldlink::ble
