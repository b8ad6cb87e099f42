#include "terminal.hpp"

#include <gtest/gtest.h>

namespace fieldlink::ctl {
namespace {

TEST(Colour, OnlyOnATerminal) {
  EXPECT_TRUE(use_colour(true, nullptr, "xterm-256color"));
  EXPECT_FALSE(use_colour(false, nullptr, "xterm-256color"));
}

TEST(Colour, NoColorWinsEvenWhenEmpty) {
  EXPECT_FALSE(use_colour(true, "1", "xterm"));
  EXPECT_FALSE(use_colour(true, "", "xterm"));
}

TEST(Colour, DumbTerminalGetsNone) {
  EXPECT_FALSE(use_colour(true, nullptr, "dumb"));
  EXPECT_TRUE(use_colour(true, nullptr, nullptr));
}

TEST(Colour, PaletteWrapsOnlyWhenEnabled) {
  Palette off;
  EXPECT_EQ(off.bad("x"), "x");
  Palette on;
  on.enabled = true;
  EXPECT_EQ(on.bad("x"), "\033[31mx\033[0m");
}

}  // namespace
}  // namespace fieldlink::ctl
