#pragma once
// Time as a seam: everything that decides by time asks a Clock, so tests drive it by hand.
#include <chrono>

namespace fieldlink {

class Clock {
 public:
  virtual ~Clock() = default;
  // For intervals, deadlines and rate windows; never jumps.
  virtual std::chrono::steady_clock::time_point now() const = 0;
  // For timestamps that leave the process (sample times, log records); UTC.
  virtual std::chrono::system_clock::time_point wall_now() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::now();
  }
  std::chrono::system_clock::time_point wall_now() const override {
    return std::chrono::system_clock::now();
  }
};

// A clock that moves only when told; for tests of backoff, pacing and rate limits.
class ManualClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override { return steady_; }
  std::chrono::system_clock::time_point wall_now() const override { return wall_; }
  void advance(std::chrono::nanoseconds d) {
    steady_ += d;
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
  }

 private:
  std::chrono::steady_clock::time_point steady_{std::chrono::hours(1)};
  std::chrono::system_clock::time_point wall_{std::chrono::seconds(1'800'000'000)};
};

}  // namespace fieldlink
