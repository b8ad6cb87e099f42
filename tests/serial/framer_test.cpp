// Every framer on hand-made byte streams, fed whole and one byte at a time (a serial read can
// end anywhere), with the exact frames and faults each must produce.
#include <random>

#include <gtest/gtest.h>

#include "adapters/serial/delimited_framer.hpp"
#include "adapters/serial/fixed_framer.hpp"
#include "adapters/serial/length_prefixed_framer.hpp"
#include "adapters/serial/line_framer.hpp"

namespace fieldlink::serial {
namespace {

struct Recorder final : FrameSink {
  void frame(std::string_view f) override { events.push_back("F:" + std::string(f)); }
  void fault(FrameFault f, std::size_t n) override {
    events.push_back(std::string("E:") + fault_name(f) + ":" + std::to_string(n));
  }
  std::vector<std::string> events;
};

using Events = std::vector<std::string>;

Events whole(Framer& f, std::string_view bytes, bool gap = false) {
  Recorder r;
  f.feed(bytes, r);
  if (gap) f.gap(r);
  return r.events;
}

Events bytewise(Framer& f, std::string_view bytes, bool gap = false) {
  Recorder r;
  for (const char c : bytes)
    f.feed(std::string_view(&c, 1), r);
  if (gap) f.gap(r);
  return r.events;
}

TEST(LineFramer, SplitsStripsCrAndSkipsEmptyLines) {
  const std::string in = "ST,GS,+0012.34kg\r\n\r\nUS,GS,+0000.10kg\r\npart";
  const Events want{"F:ST,GS,+0012.34kg", "F:US,GS,+0000.10kg"};
  LineFramer a("\n", true, 64), b("\n", true, 64);
  EXPECT_EQ(whole(a, in), want);
  EXPECT_TRUE(a.partial());
  EXPECT_EQ(bytewise(b, in), want);
}

TEST(LineFramer, MultiByteDelimiterKeepsLoneCr) {
  LineFramer f("\r\n", false, 64);
  EXPECT_EQ(bytewise(f, "a\rb\r\nc\r\n"), (Events{"F:a\rb", "F:c"}));
}

TEST(LineFramer, OverlongLineIsCountedOnceAndDiscardedToTheNextDelimiter) {
  LineFramer f("\n", true, 8);
  const std::string in = "12345678\n" + std::string(40, 'x') + "\nok\n";
  EXPECT_EQ(bytewise(f, in), (Events{"F:12345678", "E:overlong:10", "F:ok"}));
  EXPECT_EQ(whole(f, "12345678\r\n123456789\r\n"), (Events{"F:12345678", "E:overlong:10"}));
  LineFramer strict("\n", false, 8);
  EXPECT_EQ(whole(strict, "12345678\r\n"), (Events{"E:overlong:9"}));
  LineFramer g("\r\n", true, 4);
  EXPECT_EQ(whole(g, "abcdefgh\r\nxy\r\n"), (Events{"E:overlong:7", "F:xy"}));
}

TEST(LineFramer, GapEndsAnUnterminatedLine) {
  LineFramer f("\n", true, 64);
  EXPECT_EQ(whole(f, "4006381333931", true), (Events{"F:4006381333931"}));
  EXPECT_FALSE(f.partial());
  EXPECT_EQ(whole(f, std::string(100, 'x'), true), (Events{"E:overlong:66"}));
  EXPECT_EQ(whole(f, "next\n"), (Events{"F:next"}));  // the gap ended the overlong line too
}

TEST(FixedFramer, CutsEveryNBytesAndAGapDropsAPartialFrame) {
  FixedFramer f(4);
  EXPECT_EQ(bytewise(f, "abcdefgh"), (Events{"F:abcd", "F:efgh"}));
  EXPECT_EQ(whole(f, "xy", true), (Events{"E:truncated:2"}));
  EXPECT_EQ(whole(f, "1234"), (Events{"F:1234"}));
  EXPECT_EQ(whole(f, "", true), Events{});
}

TEST(DelimitedFramer, FramesBetweenStartAndEndWithEscapes) {
  DelimitedFramer f('\x02', '\x03', 0x10, 16);
  // DLE-escaped ETX and DLE inside the frame; garbage before the first STX is one fault.
  const std::string in =
      "zz\x02"
      "A\x10\x03"
      "B\x10\x10\x03\x02"
      "C\x03";
  const Events want{"E:garbage:2",
                    "F:A\x03"
                    "B\x10",
                    "F:C"};
  EXPECT_EQ(bytewise(f, in), want);
  DelimitedFramer g('\x02', '\x03', 0x10, 16);
  EXPECT_EQ(whole(g, in), want);
}

TEST(DelimitedFramer, RestartOverlongAndGap) {
  DelimitedFramer f('\x02', '\x03', -1, 4);
  EXPECT_EQ(whole(f,
                  "\x02"
                  "ab\x02"
                  "cd\x03"),
            (Events{"E:truncated:3", "F:cd"}));
  EXPECT_EQ(whole(f,
                  "\x02"
                  "abcdefg\x03\x02"
                  "ok\x03"),
            (Events{"E:overlong:6", "F:ok"}));
  EXPECT_EQ(whole(f,
                  "\x02"
                  "ab",
                  true),
            (Events{"E:truncated:3"}));
  EXPECT_EQ(whole(f, "junk", true), (Events{"E:garbage:4"}));
  EXPECT_FALSE(f.partial());
}

std::string frame_with_length(std::uint8_t len, std::string body) {
  return std::string("\xAA") + static_cast<char>(len) + body;
}

TEST(LengthPrefixedFramer, ReadsTheLengthFieldInEitherOrder) {
  LengthPrefixedFramer f(1, 1, true, 0, 32);
  const auto in =
      frame_with_length(3, "abc") + frame_with_length(0, "") + frame_with_length(1, "z");
  EXPECT_EQ(bytewise(f, in), (Events{"F:\xAA\x03"
                                     "abc",
                                     std::string("F:\xAA\x00", 4), "F:\xAA\x01z"}));
  // Two-byte little-endian length at offset 0, plus a 2-byte trailer the length leaves out.
  LengthPrefixedFramer g(0, 2, false, 2, 32);
  EXPECT_EQ(whole(g, std::string("\x03\x00xyzCC", 7)), (Events{std::string("F:\x03\x00xyzCC", 9)}));
  LengthPrefixedFramer h(0, 2, true, 0, 300);
  EXPECT_EQ(whole(h, std::string("\x01\x00", 2) + std::string(256, 'q')).size(), 1u);
}

TEST(LengthPrefixedFramer, ImpossibleLengthResynchronisesByteByByte) {
  // max_frame 8: a length of 0x7F is impossible; the framer slides until a header fits.
  LengthPrefixedFramer f(0, 1, true, 0, 8);
  const std::string in = std::string("\x7F\x7E") +
                         "\x02"
                         "ab" +
                         "\x01"
                         "c";
  EXPECT_EQ(bytewise(f, in), (Events{"E:overlong:1",
                                     "F:\x02"
                                     "ab",
                                     "F:\x01"
                                     "c"}));
  // A length shorter than the header (negative adjust) is a bad length.
  LengthPrefixedFramer g(0, 1, true, -2, 8);
  EXPECT_EQ(whole(g, "\x01\x03z"), (Events{"E:bad_length:1", "F:\x03z"}));
  EXPECT_EQ(whole(g,
                  "\x05"
                  "ab",
                  true),
            (Events{"E:truncated:3"}));
}

// Random line noise in random pieces: no framer hands on a frame longer than its bound, and
// every byte ends up in a frame or a fault or stays buffered (the sanitizer build runs this).
TEST(Framers, RandomNoiseNeverExceedsTheBound) {
  std::mt19937 rng(20261126);
  std::vector<std::pair<std::string, std::unique_ptr<Framer>>> framers;
  framers.emplace_back("line", std::make_unique<LineFramer>("\r\n", true, 32));
  framers.emplace_back("fixed", std::make_unique<FixedFramer>(7));
  framers.emplace_back("delimited", std::make_unique<DelimitedFramer>('\x02', '\x03', 0x10, 32));
  framers.emplace_back("length", std::make_unique<LengthPrefixedFramer>(1, 2, false, 2, 32));
  std::string noise(1 << 16, '\0');
  for (auto& c : noise)
    c = static_cast<char>(rng() % 8 == 0 ? "\x02\x03\x10\r\n"[rng() % 5] : rng());
  for (auto& [name, framer] : framers) {
    struct Bound final : FrameSink {
      void frame(std::string_view f) override {
        longest = std::max(longest, f.size());
        ++frames;
      }
      void fault(FrameFault, std::size_t) override { ++faults; }
      std::size_t longest = 0, frames = 0, faults = 0;
    } sink;
    for (std::size_t at = 0; at < noise.size();) {
      const auto n = std::min<std::size_t>(1 + rng() % 300, noise.size() - at);
      framer->feed(std::string_view(noise).substr(at, n), sink);
      if (rng() % 10 == 0) framer->gap(sink);
      at += n;
    }
    EXPECT_LE(sink.longest, 32u) << name;
    EXPECT_GT(sink.frames, 0u) << name;
    EXPECT_GT(sink.faults + (name == "fixed" ? 1 : 0), 0u) << name;
  }
}

}  // namespace
}  // namespace fieldlink::serial
