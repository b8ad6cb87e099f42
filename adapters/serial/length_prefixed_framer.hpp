#pragma once
// Binary frames whose header carries their length: `width` bytes (1, 2 or 4) at `offset`, in
// `order`; the frame is offset + width + length + adjust bytes long (adjust counts a trailer such
// as a CRC that the length leaves out, or is negative when the length includes the header). A
// length beyond max_frame or shorter than the header is a fault: the first byte is dropped and
// the header is looked for again one byte later (one fault per resynchronisation, not per byte).
// Thread: core loop only.
#include <cstdint>
#include <string>

#include "adapters/serial/framer.hpp"

namespace fieldlink::serial {

class LengthPrefixedFramer final : public Framer {
 public:
  LengthPrefixedFramer(std::size_t offset, std::size_t width, bool big_endian, std::int64_t adjust,
                       std::size_t max_frame);
  void feed(std::string_view bytes, FrameSink& sink) override;
  void gap(FrameSink& sink) override;
  bool partial() const override { return !buffer_.empty(); }
  void reset() override;

 private:
  std::size_t offset_;
  std::size_t width_;
  bool big_endian_;
  std::int64_t adjust_;
  std::size_t max_frame_;
  std::string buffer_;
  bool resyncing_ = false;
};

}  // namespace fieldlink::serial
