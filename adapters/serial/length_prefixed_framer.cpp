#include "adapters/serial/length_prefixed_framer.hpp"

namespace fieldlink::serial {

LengthPrefixedFramer::LengthPrefixedFramer(std::size_t offset, std::size_t width, bool big_endian,
                                           std::int64_t adjust, std::size_t max_frame)
    : offset_(offset),
      width_(width),
      big_endian_(big_endian),
      adjust_(adjust),
      max_frame_(max_frame) {
  buffer_.reserve(max_frame_);
}

void LengthPrefixedFramer::feed(std::string_view bytes, FrameSink& sink) {
  const auto header = offset_ + width_;
  for (const char c : bytes) {
    buffer_.push_back(c);
    // Each byte can complete a header or a frame, or reveal a bad length to slide past.
    while (buffer_.size() >= header) {
      std::uint64_t length = 0;
      for (std::size_t i = 0; i < width_; ++i) {
        const auto b =
            static_cast<std::uint8_t>(buffer_[offset_ + (big_endian_ ? i : width_ - 1 - i)]);
        length = (length << 8) | b;
      }
      const auto total =
          static_cast<std::int64_t>(header) + static_cast<std::int64_t>(length) + adjust_;
      const bool too_long = total > static_cast<std::int64_t>(max_frame_);
      if (too_long || total < static_cast<std::int64_t>(header)) {
        if (!resyncing_) sink.fault(too_long ? FrameFault::overlong : FrameFault::bad_length, 1);
        resyncing_ = true;
        buffer_.erase(0, 1);
        continue;
      }
      if (buffer_.size() < static_cast<std::size_t>(total)) break;
      sink.frame(std::string_view(buffer_).substr(0, static_cast<std::size_t>(total)));
      buffer_.erase(0, static_cast<std::size_t>(total));
      resyncing_ = false;
    }
  }
}

void LengthPrefixedFramer::gap(FrameSink& sink) {
  if (!buffer_.empty() && !resyncing_) sink.fault(FrameFault::truncated, buffer_.size());
  reset();
}

void LengthPrefixedFramer::reset() {
  buffer_.clear();
  resyncing_ = false;
}

}  // namespace fieldlink::serial
