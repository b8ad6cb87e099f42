#include "adapters/modbus/unit_breaker.hpp"

#include <algorithm>

namespace fieldlink::modbus {

std::optional<UnitBreaker::State> UnitBreaker::answered() {
  failures_ = 0;
  backoff_ = Duration{0};
  if (state_ == State::online) return std::nullopt;
  state_ = State::online;
  return state_;
}

std::optional<UnitBreaker::State> UnitBreaker::unanswered(TimePoint now) {
  ++failures_;
  if (state_ == State::offline) {
    // A failed probe: wait twice as long before the next one.
    backoff_ = std::min(backoff_ * 2, params_.max_backoff);
    retry_at_ = now + backoff_;
    return std::nullopt;
  }
  if (failures_ < params_.failures_to_open) return std::nullopt;
  state_ = State::offline;
  backoff_ = std::min(params_.first_backoff, params_.max_backoff);
  retry_at_ = now + backoff_;
  return state_;
}

}  // namespace fieldlink::modbus
