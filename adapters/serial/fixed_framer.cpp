#include "adapters/serial/fixed_framer.hpp"

namespace fieldlink::serial {

FixedFramer::FixedFramer(std::size_t length) : length_(length) {
  buffer_.reserve(length_);
}

void FixedFramer::feed(std::string_view bytes, FrameSink& sink) {
  while (!bytes.empty()) {
    const auto take = std::min(bytes.size(), length_ - buffer_.size());
    buffer_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (buffer_.size() == length_) {
      sink.frame(buffer_);
      buffer_.clear();
    }
  }
}

void FixedFramer::gap(FrameSink& sink) {
  if (!buffer_.empty()) sink.fault(FrameFault::truncated, buffer_.size());
  buffer_.clear();
}

}  // namespace fieldlink::serial
