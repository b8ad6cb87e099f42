#pragma once
// Timestamps that leave the process are UTC ISO-8601 with milliseconds and a `Z`, never local
// time without a zone (field-lessons.md).
#include <chrono>
#include <string>

namespace fieldlink {

// "2026-11-26T05:30:44.123Z"
std::string utc_iso8601(std::chrono::system_clock::time_point t);

}  // namespace fieldlink
