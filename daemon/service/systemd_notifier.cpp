#include "service/systemd_notifier.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <string>

namespace fieldlink {

void SystemdNotifier::send(const std::string& state) {
  sd_notify(0, state.c_str());
}

void SystemdNotifier::ready(std::string_view status) {
  send("READY=1\nSTATUS=" + std::string(status));
}

void SystemdNotifier::reloading() {
  // systemd ≥ 253 wants MONOTONIC_USEC with RELOADING=1 to match the reload to its request.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1'000'000ull +
                    static_cast<unsigned long long>(ts.tv_nsec) / 1000ull;
  send("RELOADING=1\nSTATUS=reloading configuration\nMONOTONIC_USEC=" + std::to_string(usec));
}

void SystemdNotifier::stopping() {
  send("STOPPING=1\nSTATUS=stopping");
}

void SystemdNotifier::status(std::string_view status) {
  send("STATUS=" + std::string(status));
}

void SystemdNotifier::watchdog() {
  send("WATCHDOG=1");
}

std::optional<std::chrono::microseconds> SystemdNotifier::watchdog_period() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    return std::chrono::microseconds(usec);
  }
  return std::nullopt;
}

}  // namespace fieldlink
