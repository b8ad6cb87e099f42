#pragma once
// The logging seam every part writes through. The service part decides where records go (journald
// with structured fields, or stderr) and applies the per-source rate limit.
#include <string>
#include <string_view>

namespace fieldlink {

enum class LogLevel { error = 3, warning = 4, notice = 5, info = 6, debug = 7 };  // syslog values

// Structured context of one record; maps to FIELDLINK_* journald fields (design.md §7).
struct LogFields {
  std::string_view event = {};     // stable kind, e.g. "config.reload_failed"; part of the rate key
  std::string_view adapter = {};   // FIELDLINK_ADAPTER
  std::string_view source = {};    // FIELDLINK_SOURCE
  std::string_view identity = {};  // FIELDLINK_IDENTITY
};

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void log(LogLevel level, const LogFields& fields, std::string_view message) = 0;

  void error(const LogFields& f, std::string_view m) { log(LogLevel::error, f, m); }
  void warning(const LogFields& f, std::string_view m) { log(LogLevel::warning, f, m); }
  void notice(const LogFields& f, std::string_view m) { log(LogLevel::notice, f, m); }
  void info(const LogFields& f, std::string_view m) { log(LogLevel::info, f, m); }
  void debug(const LogFields& f, std::string_view m) { log(LogLevel::debug, f, m); }
};

}  // namespace fieldlink
