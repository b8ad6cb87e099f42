#pragma once
// The daemon's Logger: to journald with FIELDLINK_* fields when systemd gave us a journal stream
// (JOURNAL_STREAM matches stderr), else one line per record to stderr. Records below the level
// are dropped; warnings and errors are rate-limited per source and event kind.
// Thread: the core loop's; lanes post their records there.
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "service/rate_limiter.hpp"

namespace fieldlink {

class ServiceLogger final : public Logger {
 public:
  enum class Target { journal, stderr_lines };

  ServiceLogger(const Clock& clock, Target target, LogLevel level, std::uint64_t per_window,
                std::chrono::milliseconds window);
  // journald when JOURNAL_STREAM names our stderr, as systemd sets it for StandardError=journal.
  static Target detect_target();

  void log(LogLevel level, const LogFields& fields, std::string_view message) override;
  void set_level(LogLevel level) { level_ = level; }
  void set_rate_limit(std::uint64_t per_window, std::chrono::milliseconds window) {
    limiter_.set_limit(per_window, window);
  }
  std::uint64_t suppressed_total() const { return limiter_.total_suppressed(); }

 private:
  void write(LogLevel level, const LogFields& fields, std::string_view message);

  Target target_;
  LogLevel level_;
  RateLimiter limiter_;
};

}  // namespace fieldlink
