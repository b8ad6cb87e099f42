#include "adapters/serial/line_framer.hpp"

namespace fieldlink::serial {

LineFramer::LineFramer(std::string delimiter, bool strip_cr, std::size_t max_frame)
    : delimiter_(std::move(delimiter)), strip_cr_(strip_cr), max_frame_(max_frame) {
  buffer_.reserve(max_frame_ + delimiter_.size());
}

void LineFramer::emit(std::string_view line, FrameSink& sink) const {
  if (strip_cr_ && line.ends_with('\r')) line.remove_suffix(1);
  if (!line.empty()) sink.frame(line);
}

void LineFramer::feed(std::string_view bytes, FrameSink& sink) {
  for (const char c : bytes) {
    buffer_.push_back(c);
    if (std::string_view(buffer_).ends_with(delimiter_)) {
      if (!discarding_)
        emit(std::string_view(buffer_).substr(0, buffer_.size() - delimiter_.size()), sink);
      discarding_ = false;
      buffer_.clear();
      continue;
    }
    if (discarding_) {
      // Keep only what could be the start of the delimiter.
      if (buffer_.size() >= delimiter_.size())
        buffer_.erase(0, buffer_.size() - delimiter_.size() + 1);
      continue;
    }
    // Without a complete delimiter at the end, this many bytes hold more than max_frame of line
    // (a "\r" that will be stripped does not count: a CRLF device may use the whole max_frame).
    if (buffer_.size() >= max_frame_ + delimiter_.size() + (strip_cr_ ? 1 : 0)) {
      sink.fault(FrameFault::overlong, buffer_.size());
      discarding_ = true;
      buffer_.erase(0, buffer_.size() - delimiter_.size() + 1);
    }
  }
}

void LineFramer::gap(FrameSink& sink) {
  if (!discarding_ && !buffer_.empty()) emit(buffer_, sink);
  reset();
}

void LineFramer::reset() {
  buffer_.clear();
  discarding_ = false;
}

}  // namespace fieldlink::serial
