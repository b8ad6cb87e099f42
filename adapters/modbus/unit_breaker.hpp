#pragma once
// The circuit breaker of one unit: after `failures_to_open` consecutive unanswered polls the
// unit is offline and is only probed, at exponentially growing intervals up to a ceiling, so a
// dead slave costs the bus one timeout per probe instead of one per poll. Any answer (even a
// Modbus exception: the unit is alive) closes it again. Pure logic on an injected time.
#include <chrono>
#include <optional>

namespace fieldlink::modbus {

class UnitBreaker {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::milliseconds;
  enum class State { unknown, online, offline };

  struct Params {
    int failures_to_open = 2;
    Duration first_backoff{1000};
    Duration max_backoff{60000};
  };

  explicit UnitBreaker(Params params) : params_(params) {}

  State state() const { return state_; }
  // True unless offline and the next probe is not due yet.
  bool may_poll(TimePoint now) const { return state_ != State::offline || now >= retry_at_; }
  TimePoint retry_at() const { return retry_at_; }
  Duration backoff() const { return backoff_; }

  // Each returns the new state when this outcome changed it (to log the transition once).
  std::optional<State> answered();
  std::optional<State> unanswered(TimePoint now);

 private:
  Params params_;
  State state_ = State::unknown;
  int failures_ = 0;
  Duration backoff_{0};
  TimePoint retry_at_{};
};

}  // namespace fieldlink::modbus
