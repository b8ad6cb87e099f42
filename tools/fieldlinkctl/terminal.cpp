#include "terminal.hpp"

#include <unistd.h>

#include <cstdlib>
#include <string_view>

namespace fieldlink::ctl {

bool use_colour(bool stdout_is_tty, const char* no_color, const char* term) {
  if (!stdout_is_tty || no_color != nullptr) return false;
  return term == nullptr || std::string_view(term) != "dumb";
}

Palette stdout_palette() {
  Palette p;
  p.enabled =
      use_colour(::isatty(STDOUT_FILENO) != 0, std::getenv("NO_COLOR"), std::getenv("TERM"));
  return p;
}

}  // namespace fieldlink::ctl
