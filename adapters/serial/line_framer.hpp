#pragma once
// Text lines ending in a delimiter (default "\n"); a trailing "\r" is stripped when asked, empty
// lines are skipped. A line longer than max_frame is reported once as overlong and the rest of it
// discarded up to the next delimiter. A gap ends an unterminated line as a frame (barcode readers
// that send no terminator). Thread: core loop only.
#include <string>

#include "adapters/serial/framer.hpp"

namespace fieldlink::serial {

class LineFramer final : public Framer {
 public:
  LineFramer(std::string delimiter, bool strip_cr, std::size_t max_frame);
  void feed(std::string_view bytes, FrameSink& sink) override;
  void gap(FrameSink& sink) override;
  bool partial() const override { return !buffer_.empty(); }
  void reset() override;

 private:
  void emit(std::string_view line, FrameSink& sink) const;

  std::string delimiter_;
  bool strip_cr_;
  std::size_t max_frame_;
  std::string buffer_;
  bool discarding_ = false;  // inside an overlong line, waiting for its delimiter
};

}  // namespace fieldlink::serial
