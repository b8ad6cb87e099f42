#pragma once
// Whether to colour output, and the colours. Colour only on a terminal and only when NO_COLOR is
// unset (no-color.org), so pipes, logs and `watch` without -c get plain text.
#include <string>

namespace fieldlink::ctl {

// `no_color` is getenv("NO_COLOR"); `term` is getenv("TERM"). A set NO_COLOR, even empty, wins.
bool use_colour(bool stdout_is_tty, const char* no_color, const char* term);

struct Palette {
  bool enabled = false;
  std::string good(const std::string& text) const { return wrap("32", text); }
  std::string bad(const std::string& text) const { return wrap("31", text); }
  std::string warn(const std::string& text) const { return wrap("33", text); }
  std::string dim(const std::string& text) const { return wrap("2", text); }
  std::string bold(const std::string& text) const { return wrap("1", text); }

 private:
  std::string wrap(const char* code, const std::string& text) const {
    return enabled ? "\033[" + std::string(code) + "m" + text + "\033[0m" : text;
  }
};

// The decision for this process's stdout and environment.
Palette stdout_palette();

}  // namespace fieldlink::ctl
