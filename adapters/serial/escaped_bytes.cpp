#include "adapters/serial/escaped_bytes.hpp"

namespace fieldlink::serial {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Unescaped from_hex(std::string_view digits) {
  Unescaped out;
  int high = -1;
  for (const char c : digits) {
    if (c == ' ') continue;
    const int d = hex_digit(c);
    if (d < 0) {
      return {{}, "expected hex digits after 'hex:', got '" + std::string(1, c) + "'"};
    }
    if (high < 0) {
      high = d;
    } else {
      out.bytes.push_back(static_cast<char>(high * 16 + d));
      high = -1;
    }
  }
  if (high >= 0) return {{}, "odd number of hex digits after 'hex:'"};
  return out;
}

}  // namespace

Unescaped unescape_bytes(std::string_view text) {
  if (text.starts_with("hex:")) return from_hex(text.substr(4));
  Unescaped out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out.bytes.push_back(text[i]);
      continue;
    }
    if (i + 1 == text.size()) return {{}, "a lone '\\' at the end; write \\\\ for a backslash"};
    switch (const char e = text[++i]) {
      case 'r':
        out.bytes.push_back('\r');
        break;
      case 'n':
        out.bytes.push_back('\n');
        break;
      case 't':
        out.bytes.push_back('\t');
        break;
      case '0':
        out.bytes.push_back('\0');
        break;
      case '\\':
        out.bytes.push_back('\\');
        break;
      case 'x': {
        const int h = i + 1 < text.size() ? hex_digit(text[i + 1]) : -1;
        const int l = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
        if (h < 0 || l < 0) return {{}, "\\x needs two hex digits, e.g. \\x02"};
        out.bytes.push_back(static_cast<char>(h * 16 + l));
        i += 2;
        break;
      }
      default:
        return {{},
                "unknown escape '\\" + std::string(1, e) + "' (known: \\r \\n \\t \\0 \\\\ \\xHH)"};
    }
  }
  return out;
}

std::string printable_bytes(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

std::string utf8_or_escaped(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t n = 0;
    if (c < 0x80) {
      n = 1;
    } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
      n = 2;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
    } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
      n = 4;
    } else {
      return printable_bytes(text);
    }
    if (i + n > text.size()) return printable_bytes(text);
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return printable_bytes(text);
    }
    i += n;
  }
  return std::string(text);
}

}  // namespace fieldlink::serial
