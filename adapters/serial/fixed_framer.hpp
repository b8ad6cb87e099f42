#pragma once
// Frames of a fixed length. The only way to find the frame boundary again after a lost byte is
// the line falling silent: a gap (inter-byte timeout) discards a partial frame as truncated.
// Thread: core loop only.
#include <string>

#include "adapters/serial/framer.hpp"

namespace fieldlink::serial {

class FixedFramer final : public Framer {
 public:
  explicit FixedFramer(std::size_t length);
  void feed(std::string_view bytes, FrameSink& sink) override;
  void gap(FrameSink& sink) override;
  bool partial() const override { return !buffer_.empty(); }
  void reset() override { buffer_.clear(); }

 private:
  std::size_t length_;
  std::string buffer_;
};

}  // namespace fieldlink::serial
