#pragma once
// Cuts the byte stream of a serial line into frames. One Framer per line, fed on the core loop in
// the order bytes arrive; it never holds more than max_frame bytes (plus a delimiter's worth), so
// a device that never sends a delimiter cannot grow memory. Faults are reported, the framer
// resynchronises by itself (next delimiter, next start byte, next byte, or the next gap).
#include <cstddef>
#include <memory>
#include <string_view>

namespace fieldlink::serial {

struct FramingSettings;

enum class FrameFault {
  overlong,   // longer than max_frame (or a length field saying so); discarded
  truncated,  // a frame cut short by a gap or a new start byte
  garbage,    // bytes outside any frame (delimited framing)
  bad_length  // a length field smaller than the header (length-prefixed framing)
};
const char* fault_name(FrameFault fault);

class FrameSink {
 public:
  virtual ~FrameSink() = default;
  virtual void frame(std::string_view frame) = 0;
  // `bytes`: how many bytes the fault discarded (as far as known when it is reported).
  virtual void fault(FrameFault fault, std::size_t bytes) = 0;
};

class Framer {
 public:
  virtual ~Framer() = default;
  virtual void feed(std::string_view bytes, FrameSink& sink) = 0;
  // The line was silent for the inter-byte timeout: ends whatever frame is open.
  virtual void gap(FrameSink& sink) = 0;
  // True while part of a frame is buffered (the inter-byte timer only runs then).
  virtual bool partial() const = 0;
  // Forget everything buffered (the port was closed); reports nothing.
  virtual void reset() = 0;
};

std::unique_ptr<Framer> make_framer(const FramingSettings& settings);

}  // namespace fieldlink::serial
