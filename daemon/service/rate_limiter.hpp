#pragma once
// Lets at most N records per key through in each window and counts the rest, so one chattering
// device cannot flood journald, yet nothing disappears without a number saying how much.
// Thread: the owner's; not synchronised.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/clock.hpp"

namespace fieldlink {

class RateLimiter {
 public:
  struct Verdict {
    bool pass = false;
    // When the first record of a new window passes after records were suppressed in the last
    // one: how many, so the caller can say so before logging the record.
    std::uint64_t suppressed_before = 0;
  };

  RateLimiter(const Clock& clock, std::uint64_t per_window, std::chrono::milliseconds window);

  Verdict admit(const std::string& key);
  void set_limit(std::uint64_t per_window, std::chrono::milliseconds window);
  std::uint64_t total_suppressed() const { return total_suppressed_; }

 private:
  struct Bucket {
    std::chrono::steady_clock::time_point window_start;
    std::uint64_t passed = 0;
    std::uint64_t suppressed = 0;
  };

  const Clock& clock_;
  std::uint64_t per_window_;
  std::chrono::milliseconds window_;
  std::map<std::string, Bucket, std::less<>> buckets_;
  std::uint64_t total_suppressed_ = 0;
};

}  // namespace fieldlink
