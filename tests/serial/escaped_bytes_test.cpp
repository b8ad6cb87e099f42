#include "adapters/serial/escaped_bytes.hpp"

#include <gtest/gtest.h>

namespace fieldlink::serial {
namespace {

TEST(EscapedBytes, EscapesBecomeBytes) {
  EXPECT_EQ(unescape_bytes("P\\r\\n").bytes, "P\r\n");
  EXPECT_EQ(unescape_bytes("\\x02A\\x03").bytes, std::string("\x02"
                                                             "A\x03"));
  EXPECT_EQ(unescape_bytes("a\\0b").bytes, std::string("a\0b", 3));
  EXPECT_EQ(unescape_bytes("\\\\\\t").bytes, "\\\t");
  EXPECT_EQ(unescape_bytes("P\r\n").bytes, "P\r\n");  // YAML already turned "\r\n" into bytes
}

TEST(EscapedBytes, HexForm) {
  EXPECT_EQ(unescape_bytes("hex:01 03 00 0a").bytes, std::string("\x01\x03\x00\x0a", 4));
  EXPECT_EQ(unescape_bytes("hex:").bytes, "");
  EXPECT_EQ(unescape_bytes("hex:0").error, "odd number of hex digits after 'hex:'");
  EXPECT_EQ(unescape_bytes("hex:0g").error, "expected hex digits after 'hex:', got 'g'");
}

TEST(EscapedBytes, BadEscapesSayWhy) {
  EXPECT_EQ(unescape_bytes("\\q").error,
            "unknown escape '\\q' (known: \\r \\n \\t \\0 \\\\ \\xHH)");
  EXPECT_EQ(unescape_bytes("\\x2").error, "\\x needs two hex digits, e.g. \\x02");
  EXPECT_EQ(unescape_bytes("abc\\").error, "a lone '\\' at the end; write \\\\ for a backslash");
}

TEST(EscapedBytes, PrintableAndBack) {
  const std::string raw("\x02ST\r\n\\\xFF", 7);
  EXPECT_EQ(printable_bytes(raw), "\\x02ST\\r\\n\\\\\\xFF");
  EXPECT_EQ(unescape_bytes(printable_bytes(raw)).bytes, raw);
}

TEST(EscapedBytes, Utf8KeptInvalidEscaped) {
  EXPECT_EQ(utf8_or_escaped("21.5 \xC2\xB0"
                            "C"),
            "21.5 \xC2\xB0"
            "C");
  EXPECT_EQ(utf8_or_escaped("a\xFF"), "a\\xFF");
  EXPECT_EQ(utf8_or_escaped("\xC2"), "\\xC2");  // truncated sequence
}

}  // namespace
}  // namespace fieldlink::serial
