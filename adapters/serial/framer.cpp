#include "adapters/serial/framer.hpp"

#include "adapters/serial/delimited_framer.hpp"
#include "adapters/serial/fixed_framer.hpp"
#include "adapters/serial/length_prefixed_framer.hpp"
#include "adapters/serial/line_framer.hpp"
#include "adapters/serial/serial_settings.hpp"

namespace fieldlink::serial {

const char* fault_name(FrameFault fault) {
  switch (fault) {
    case FrameFault::overlong:
      return "overlong";
    case FrameFault::truncated:
      return "truncated";
    case FrameFault::garbage:
      return "garbage";
    case FrameFault::bad_length:
      return "bad_length";
  }
  return "?";
}

std::unique_ptr<Framer> make_framer(const FramingSettings& s) {
  const auto max = static_cast<std::size_t>(s.max_frame);
  switch (s.kind) {
    case FramingKind::line:
      return std::make_unique<LineFramer>(s.delimiter, s.strip_cr, max);
    case FramingKind::fixed:
      return std::make_unique<FixedFramer>(static_cast<std::size_t>(s.length));
    case FramingKind::delimited:
      return std::make_unique<DelimitedFramer>(s.start, s.end, s.escape, max);
    case FramingKind::length_prefixed:
      return std::make_unique<LengthPrefixedFramer>(static_cast<std::size_t>(s.offset),
                                                    static_cast<std::size_t>(s.width),
                                                    s.order == ByteOrder::big, s.adjust, max);
  }
  return nullptr;
}

}  // namespace fieldlink::serial
