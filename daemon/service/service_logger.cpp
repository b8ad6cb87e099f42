#include "service/service_logger.hpp"

#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace fieldlink {
namespace {

// Where sd_journal_send writes; a fixed path in libsystemd.
constexpr const char* kJournalSocket = "/run/systemd/journal/socket";

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::error:
      return "error";
    case LogLevel::warning:
      return "warning";
    case LogLevel::notice:
      return "notice";
    case LogLevel::info:
      return "info";
    case LogLevel::debug:
      return "debug";
  }
  return "?";
}

}  // namespace

ServiceLogger::ServiceLogger(const Clock& clock, Target target, LogLevel level,
                             std::uint64_t per_window, std::chrono::milliseconds window)
    : target_(target), level_(level), limiter_(clock, per_window, window) {}

ServiceLogger::Target ServiceLogger::detect_target() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  struct stat st {};
  if (stream == nullptr || ::fstat(STDERR_FILENO, &st) != 0) return Target::stderr_lines;
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return Target::stderr_lines;
  return dev == st.st_dev && ino == st.st_ino ? Target::journal : Target::stderr_lines;
}

void ServiceLogger::log(LogLevel level, const LogFields& fields, std::string_view message) {
  if (static_cast<int>(level) > static_cast<int>(level_)) return;
  // Only problems are limited: an operator following info logs wants all of them, while a
  // failing device repeats the same error every poll.
  if (static_cast<int>(level) <= static_cast<int>(LogLevel::warning)) {
    std::string key(fields.source.empty() ? fields.adapter : fields.source);
    key.append("\x1f").append(fields.event);
    const auto verdict = limiter_.admit(key);
    if (verdict.suppressed_before > 0) {
      write(LogLevel::notice, fields,
            "suppressed " + std::to_string(verdict.suppressed_before) + " earlier '" +
                std::string(fields.event) + "' records from this source");
    }
    if (!verdict.pass) return;
  }
  write(level, fields, message);
}

void ServiceLogger::write(LogLevel level, const LogFields& f, std::string_view message) {
  if (target_ == Target::journal) {
    std::vector<std::string> fields;
    fields.push_back("MESSAGE=" + std::string(message));
    fields.push_back("PRIORITY=" + std::to_string(static_cast<int>(level)));
    fields.push_back("SYSLOG_IDENTIFIER=fieldlinkd");
    auto add = [&fields](const char* name, std::string_view value) {
      if (!value.empty()) fields.push_back(std::string(name) + "=" + std::string(value));
    };
    add("FIELDLINK_EVENT", f.event);
    add("FIELDLINK_ADAPTER", f.adapter);
    add("FIELDLINK_SOURCE", f.source);
    add("FIELDLINK_IDENTITY", f.identity);
    std::vector<iovec> iov;
    iov.reserve(fields.size());
    for (auto& s : fields)
      iov.push_back({s.data(), s.size()});
    // journald unreachable: fall through to stderr rather than lose the record. sd_journal_sendv
    // reports success when the socket does not exist at all, so look for it first.
    if (::access(kJournalSocket, W_OK) == 0 &&
        sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) == 0) {
      return;
    }
  }
  std::string line = level_name(level);
  line += ": ";
  if (!f.source.empty()) {
    line.append("[").append(f.source).append("] ");
  } else if (!f.adapter.empty()) {
    line.append("[").append(f.adapter).append("] ");
  }
  line.append(message).append("\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace fieldlink
