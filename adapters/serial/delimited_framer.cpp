#include "adapters/serial/delimited_framer.hpp"

namespace fieldlink::serial {

DelimitedFramer::DelimitedFramer(char start, char end, int escape, std::size_t max_frame)
    : start_(start), end_(end), escape_(escape), max_frame_(max_frame) {
  buffer_.reserve(max_frame_);
}

void DelimitedFramer::flush_garbage(FrameSink& sink) {
  if (garbage_ > 0) sink.fault(FrameFault::garbage, garbage_);
  garbage_ = 0;
}

void DelimitedFramer::feed(std::string_view bytes, FrameSink& sink) {
  for (const char c : bytes) {
    switch (state_) {
      case State::hunting:
        if (c == start_) {
          flush_garbage(sink);
          state_ = State::in_frame;
          buffer_.clear();
          escaped_ = false;
        } else {
          ++garbage_;
        }
        break;
      case State::in_frame:
        if (escaped_) {
          escaped_ = false;
        } else if (escape_ >= 0 && c == static_cast<char>(escape_)) {
          escaped_ = true;
          continue;
        } else if (c == end_) {
          sink.frame(buffer_);
          buffer_.clear();
          state_ = State::hunting;
          continue;
        } else if (c == start_) {
          sink.fault(FrameFault::truncated, buffer_.size() + 1);
          buffer_.clear();
          continue;
        }
        if (buffer_.size() == max_frame_) {
          sink.fault(FrameFault::overlong, buffer_.size() + 2);
          buffer_.clear();
          state_ = State::discarding;
          continue;
        }
        buffer_.push_back(c);
        break;
      case State::discarding:
        // Escapes are not tracked here: the next unescaped-looking start or end resynchronises,
        // and a wrong guess costs at most one more counted fault.
        if (c == end_) {
          state_ = State::hunting;
        } else if (c == start_) {
          state_ = State::in_frame;
          escaped_ = false;
        }
        break;
    }
  }
}

void DelimitedFramer::gap(FrameSink& sink) {
  flush_garbage(sink);
  if (state_ == State::in_frame) sink.fault(FrameFault::truncated, buffer_.size() + 1);
  reset();
}

void DelimitedFramer::reset() {
  state_ = State::hunting;
  escaped_ = false;
  garbage_ = 0;
  buffer_.clear();
}

}  // namespace fieldlink::serial
