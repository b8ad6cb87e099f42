#pragma once
// Turns one frame into typed values: regex named groups, CSV columns, JSON objects, key=value
// pairs, or binary fields after the frame's checksum is verified. Also picks out the device
// address when parse.address names a field. Built once per adapter from validated settings;
// `parse` is const and allocation-light. Errors are values (ParseResult), never exceptions.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/serial/named_regex.hpp"
#include "adapters/serial/serial_settings.hpp"
#include "core/value.hpp"

namespace fieldlink::serial {

struct ParsedFrame {
  std::string address;  // the parse.address field's text; "" without one
  std::vector<std::pair<std::string, Value>> values;
};

struct ParseResult {
  enum class Fault { none, checksum, parse };
  std::optional<ParsedFrame> frame;
  Fault fault = Fault::none;
  std::string error;  // why, for logs and /status

  static ParseResult fail(Fault f, std::string why) { return {std::nullopt, f, std::move(why)}; }
};

class FrameParser {
 public:
  explicit FrameParser(const ParseSettings& settings);
  ParseResult parse(std::string_view frame) const;

 private:
  ParseResult regex(std::string_view frame) const;
  ParseResult csv(std::string_view frame) const;
  ParseResult json(std::string_view frame) const;
  ParseResult kv(std::string_view frame) const;
  ParseResult binary(std::string_view frame) const;
  // Converts named text fields by parse.types and moves the address field out of the values.
  ParseResult typed(std::vector<std::pair<std::string, std::string>> fields) const;
  ParseResult with_address(ParsedFrame frame) const;

  ParseSettings settings_;
  std::optional<NamedRegex> regex_;
};

// Text to a value of `type`: "+0012.34" → 12.34; nullopt when the text is not one.
std::optional<Value> convert_text(std::string_view text, FieldType type);

}  // namespace fieldlink::serial
