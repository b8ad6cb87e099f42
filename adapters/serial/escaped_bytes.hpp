#pragma once
// Bytes written as text by operators (config) and by callers (C2D bodies, the `send` method):
// "P\r\n", "\x02A\x03", or "hex:02 41 03". And the way back, for logs and JSON outcomes, which
// must stay valid UTF-8 whatever a device sends. Pure functions; no state.
#include <string>
#include <string_view>

namespace fieldlink::serial {

struct Unescaped {
  std::string bytes;
  std::string error;  // empty when `bytes` is valid
};

// Escapes: \r \n \t \0 \\ \xHH; every other byte stands for itself (YAML's own double-quoted
// escapes have already been applied by then, so "\r\n" in YAML arrives here as CR LF). A text
// starting with "hex:" is hex digits, optionally separated by spaces.
Unescaped unescape_bytes(std::string_view text);

// Printable ASCII as is, everything else as \r, \n, \t or \xHH: for logs and outcomes.
std::string printable_bytes(std::string_view bytes);

// `text` itself when it is valid UTF-8, else printable_bytes(text): for string values that travel
// upstream in JSON.
std::string utf8_or_escaped(std::string_view text);

}  // namespace fieldlink::serial
