#pragma once
// Frames between a start and an end byte (STX ... ETX), with an optional escape byte that makes
// the next byte literal (so start, end and escape bytes can occur inside a frame). The frame
// handed on is the unescaped content without start and end. Bytes outside a frame are one
// garbage fault per run; a start byte inside a frame truncates the open one; a frame longer than
// max_frame is overlong and discarded up to the next end or start byte. Thread: core loop only.
#include <string>

#include "adapters/serial/framer.hpp"

namespace fieldlink::serial {

class DelimitedFramer final : public Framer {
 public:
  // `escape` < 0: no escape byte.
  DelimitedFramer(char start, char end, int escape, std::size_t max_frame);
  void feed(std::string_view bytes, FrameSink& sink) override;
  void gap(FrameSink& sink) override;
  bool partial() const override { return state_ != State::hunting || garbage_ > 0; }
  void reset() override;

 private:
  enum class State { hunting, in_frame, discarding };
  void flush_garbage(FrameSink& sink);

  char start_;
  char end_;
  int escape_;
  std::size_t max_frame_;
  State state_ = State::hunting;
  bool escaped_ = false;
  std::size_t garbage_ = 0;
  std::string buffer_;
};

}  // namespace fieldlink::serial
