#pragma once
// The sd_notify protocol (systemd Type=notify): READY, STATUS, WATCHDOG, RELOADING, STOPPING.
// Without NOTIFY_SOCKET (run by hand) every call is a no-op.
#include <chrono>
#include <optional>
#include <string_view>

namespace fieldlink {

class SystemdNotifier {
 public:
  void ready(std::string_view status);
  void reloading();
  void stopping();
  void status(std::string_view status);
  void watchdog();
  // The watchdog period systemd expects pings within (WatchdogSec), if it set one for us.
  static std::optional<std::chrono::microseconds> watchdog_period();

 private:
  void send(const std::string& state);
};

}  // namespace fieldlink
