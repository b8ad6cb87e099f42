#include "adapters/serial/serial_settings.hpp"

#include <algorithm>
#include <set>

#include "adapters/serial/escaped_bytes.hpp"
#include "adapters/serial/named_regex.hpp"
#include "config/adapter_settings.hpp"
#include "config/field.hpp"
#include "config/map_reader.hpp"

namespace fieldlink::serial {

// Keys whose text is bytes with escapes, a single byte, or whose default depends on other keys.
struct EscapedText {
  std::string bytes;
};
struct OneByte {
  int value = -1;  // -1: not set
};

std::size_t binary_size(BinaryType type) {
  switch (type) {
    case BinaryType::uint8:
    case BinaryType::int8:
      return 1;
    case BinaryType::uint16:
    case BinaryType::int16:
      return 2;
    case BinaryType::uint32:
    case BinaryType::int32:
    case BinaryType::float32:
      return 4;
    case BinaryType::uint64:
    case BinaryType::int64:
    case BinaryType::float64:
      return 8;
  }
  return 1;
}

}  // namespace fieldlink::serial

namespace fieldlink::config {

FIELDLINK_CONFIG_ENUM(serial::Parity, {"none", serial::Parity::none},
                      {"even", serial::Parity::even}, {"odd", serial::Parity::odd});
FIELDLINK_CONFIG_ENUM(serial::FlowControl, {"none", serial::FlowControl::none},
                      {"software", serial::FlowControl::software},
                      {"hardware", serial::FlowControl::hardware});
FIELDLINK_CONFIG_ENUM(serial::FramingKind, {"line", serial::FramingKind::line},
                      {"fixed", serial::FramingKind::fixed},
                      {"delimited", serial::FramingKind::delimited},
                      {"length-prefixed", serial::FramingKind::length_prefixed});
FIELDLINK_CONFIG_ENUM(serial::ByteOrder, {"big", serial::ByteOrder::big},
                      {"little", serial::ByteOrder::little});
FIELDLINK_CONFIG_ENUM(serial::ParseKind, {"regex", serial::ParseKind::regex},
                      {"csv", serial::ParseKind::csv}, {"json", serial::ParseKind::json},
                      {"kv", serial::ParseKind::kv}, {"binary", serial::ParseKind::binary});
FIELDLINK_CONFIG_ENUM(serial::FieldType, {"string", serial::FieldType::string},
                      {"int64", serial::FieldType::int64}, {"uint64", serial::FieldType::uint64},
                      {"float64", serial::FieldType::float64},
                      {"bool", serial::FieldType::boolean});
FIELDLINK_CONFIG_ENUM(serial::BinaryType, {"uint8", serial::BinaryType::uint8},
                      {"int8", serial::BinaryType::int8}, {"uint16", serial::BinaryType::uint16},
                      {"int16", serial::BinaryType::int16}, {"uint32", serial::BinaryType::uint32},
                      {"int32", serial::BinaryType::int32}, {"uint64", serial::BinaryType::uint64},
                      {"int64", serial::BinaryType::int64},
                      {"float32", serial::BinaryType::float32},
                      {"float64", serial::BinaryType::float64});
FIELDLINK_CONFIG_ENUM(serial::ChecksumKind, {"none", serial::ChecksumKind::none},
                      {"sum8", serial::ChecksumKind::sum8}, {"xor8", serial::ChecksumKind::xor8},
                      {"crc16-modbus", serial::ChecksumKind::crc16_modbus},
                      {"crc16-ccitt", serial::ChecksumKind::crc16_ccitt});

template <>
struct ValueTraits<serial::EscapedText> {
  static std::string type_name() { return "bytes (text with \\r \\n \\t \\xHH escapes, or hex:…)"; }
  static Parsed<serial::EscapedText> parse(std::string_view t, const ParseContext&) {
    auto u = serial::unescape_bytes(t);
    if (!u.error.empty()) return Parsed<serial::EscapedText>::fail(u.error);
    return Parsed<serial::EscapedText>::ok({std::move(u.bytes)});
  }
};

template <>
struct ValueTraits<serial::OneByte> {
  static std::string type_name() { return "one byte (0x02, or text such as \"\\x02\" or \"#\")"; }
  static Parsed<serial::OneByte> parse(std::string_view t, const ParseContext&) {
    if (t.empty()) return Parsed<serial::OneByte>::ok({});
    if (t.size() == 4 && (t.starts_with("0x") || t.starts_with("0X"))) {
      auto u = serial::unescape_bytes("\\x" + std::string(t.substr(2)));
      if (u.error.empty())
        return Parsed<serial::OneByte>::ok({static_cast<std::uint8_t>(u.bytes[0])});
    }
    auto u = serial::unescape_bytes(t);
    if (u.error.empty() && u.bytes.size() == 1) {
      return Parsed<serial::OneByte>::ok({static_cast<std::uint8_t>(u.bytes[0])});
    }
    return Parsed<serial::OneByte>::fail("expected one byte, such as 0x02 or \"\\x02\", got '" +
                                         std::string(t) + "'");
  }
};

}  // namespace fieldlink::config

namespace fieldlink::serial {
namespace {

using namespace std::chrono_literals;
using config::Field;
using config::key;
using config::Range;
using config::where_of;
using Ms = std::chrono::milliseconds;
using Kind = ConfigNode::Kind;
using I64 = std::int64_t;

struct AdapterKeys {
  std::string port;
  I64 baud = 9600;
  Parity parity = Parity::none;
  I64 data_bits = 8;
  I64 stop_bits = 1;
  FlowControl flow_control = FlowControl::none;
  bool rs485 = false;
  EscapedText command_template;
  Ms backoff_max{30000};
  I64 offline_after = 3;
  I64 max_devices = 32;
};

struct FramingKeys {
  FramingKind kind = FramingKind::line;
  EscapedText delimiter;
  bool strip_cr = true;
  I64 length = 0;
  OneByte start;
  OneByte end;
  OneByte escape;
  I64 offset = 0;
  I64 width = 1;
  ByteOrder order = ByteOrder::big;
  I64 adjust = 0;
  I64 max_frame = 512;
  Ms inter_byte_timeout{0};
};

struct ParseKeys {
  ParseKind kind = ParseKind::regex;
  std::string pattern;
  std::string separator;
  std::string assign;
  ChecksumKind checksum = ChecksumKind::none;
  I64 checksum_from = 0;
  std::optional<ByteOrder> checksum_order;
  std::string address;
};

struct PollKeys {
  EscapedText request;
  Ms every{1000};
  Ms timeout{500};
};

struct FieldKeys {
  std::string name;
  I64 offset = 0;
  BinaryType type = BinaryType::uint8;
  ByteOrder order = ByteOrder::big;
  double scale = 1.0;
};

const std::vector<Field<AdapterKeys>>& adapter_fields() {
  using A = AdapterKeys;
  static const std::vector<Field<AdapterKeys>> f{
      key("port", &A::port, std::nullopt,
          "Serial device; prefer /dev/serial/by-id/… (stable across re-plugs)."),
      key("baud", &A::baud, "9600", "Line speed in bits per second (a PTY ignores it).",
          Range<I64>{50, 4000000}),
      key("parity", &A::parity, "none", "Parity bit."),
      key("data_bits", &A::data_bits, "8", "Data bits per character.", Range<I64>{5, 8}),
      key("stop_bits", &A::stop_bits, "1", "Stop bits per character.", Range<I64>{1, 2}),
      key("flow_control", &A::flow_control, "none",
          "none, software (XON/XOFF) or hardware (RTS/CTS)."),
      key("rs485", &A::rs485, "false",
          "Switch the port to RS-485 mode (a warning where the port cannot)."),
      key("command_template", &A::command_template, "",
          "How a C2D body is written: {body} is the body, {address} the device's address; "
          "empty writes the body as is."),
      key("backoff_max", &A::backoff_max, "30s",
          "Longest wait between attempts to reopen a port that went away.", Range<Ms>{100ms, 1h}),
      key("offline_after", &A::offline_after, "3",
          "Consecutive unanswered polls after which a device is offline.", Range<I64>{1, 100}),
      key("max_devices", &A::max_devices, "32",
          "Devices told apart by parse.address that are tracked; frames of further addresses "
          "are counted and dropped.",
          Range<I64>{1, 1024}),
  };
  return f;
}

const std::vector<Field<FramingKeys>>& framing_fields() {
  using F = FramingKeys;
  static const std::vector<Field<FramingKeys>> f{
      key("kind", &F::kind, "line", "How the byte stream is cut into frames."),
      key("delimiter", &F::delimiter, "\\n", "line: the bytes that end a line."),
      key("strip_cr", &F::strip_cr, "true", "line: drop a \\r before the delimiter."),
      key("length", &F::length, "0", "fixed: bytes per frame (required).", Range<I64>{0, 65536}),
      key("start", &F::start, "0x02", "delimited: the byte that starts a frame."),
      key("end", &F::end, "0x03", "delimited: the byte that ends a frame."),
      key("escape", &F::escape, "",
          "delimited: the byte that makes the next one literal; empty for none."),
      key("offset", &F::offset, "0", "length-prefixed: where the length field starts.",
          Range<I64>{0, 65535}),
      key("width", &F::width, "1", "length-prefixed: bytes of the length field (1, 2 or 4).",
          Range<I64>{1, 4}),
      key("order", &F::order, "big", "length-prefixed: byte order of the length field."),
      key("adjust", &F::adjust, "0",
          "length-prefixed: frame = offset + width + length + adjust bytes (e.g. 2 for a CRC "
          "the length leaves out).",
          Range<I64>{-65535, 65535}),
      key("max_frame", &F::max_frame, "512",
          "Longest frame; longer ones are counted and discarded, never buffered.",
          Range<I64>{1, 65536}),
      key("inter_byte_timeout", &F::inter_byte_timeout, "0ms",
          "Silence that ends a frame: a line without delimiter is taken as is, a partial binary "
          "frame is discarded (the only resync of fixed framing); 0ms: off.",
          Range<Ms>{0ms, 60s}),
  };
  return f;
}

const std::vector<Field<ParseKeys>>& parse_fields() {
  using P = ParseKeys;
  static const std::vector<Field<ParseKeys>> f{
      key("kind", &P::kind, std::nullopt, "How a frame becomes typed values."),
      key("pattern", &P::pattern, "",
          "regex: ECMAScript pattern with named groups (?<name>…); each group is a value."),
      key("separator", &P::separator, "",
          "csv: between columns (default ,); kv: between pairs "
          "(default a space)."),
      key("assign", &P::assign, "", "kv: between key and value (default =)."),
      key("checksum", &P::checksum, "none",
          "binary: checksum in the frame's last 1 or 2 bytes, verified before use."),
      key("checksum_from", &P::checksum_from, "0", "binary: first byte the checksum covers.",
          Range<I64>{0, 65535}),
      key("checksum_order", &P::checksum_order, "",
          "binary: byte order of a 16-bit checksum (default little for crc16-modbus, else big)."),
      key("address", &P::address, "",
          "The field that carries the device address: each address is its own source "
          "serial://<adapter>/<address>."),
  };
  return f;
}

const std::vector<Field<PollKeys>>& poll_fields() {
  using P = PollKeys;
  static const std::vector<Field<PollKeys>> f{
      key("request", &P::request, std::nullopt,
          "Bytes sent to ask for a frame; {address} is replaced by each of poll.addresses."),
      key("every", &P::every, "1s", "Poll interval.", Range<Ms>{10ms, 24h}),
      key("timeout", &P::timeout, "500ms", "How long an answer may take.", Range<Ms>{1ms, 60s}),
  };
  return f;
}

const std::vector<Field<FieldKeys>>& binary_field_fields() {
  using F = FieldKeys;
  static const std::vector<Field<FieldKeys>> f{
      key("name", &F::name, std::nullopt, "The value's name in readings."),
      key("offset", &F::offset, std::nullopt, "Byte offset in the frame.", Range<I64>{0, 65535}),
      key("type", &F::type, std::nullopt, "How the bytes are decoded."),
      key("order", &F::order, "big", "Byte order."),
      key("scale", &F::scale, "1", "Value = raw × scale (a float64 unless 1)."),
  };
  return f;
}

// Serial field names also allow dots, as they did before the other adapters shared this check.
bool valid_value_name(std::string_view n) {
  return config::valid_value_name(n, ".");
}

Location key_where(const ConfigNode& map, std::string_view k) {
  for (size_t i = 0; i < map.entries.size(); ++i) {
    if (map.entries[i].first == k) return map.key_locations[i];
  }
  return map.where;
}

class Parser {
 public:
  explicit Parser(Diagnostics& d) : diag_(d) {}

  void adapter(const ConfigNode& node, const std::string& path, SerialSettings& s) {
    AdapterKeys a;
    config::apply_defaults(adapter_fields(), a, diag_);
    config::read_map(node, "", path, adapter_fields(), a, diag_,
                     {"name", "type", "framing", "parse", "poll"});
    if (node.find("port") && !a.port.starts_with("/")) {
      diag_.add(
          where_of(node, "port"), path + ".port",
          "expected an absolute device path such as /dev/serial/by-id/…, got '" + a.port + "'");
    }
    s.port = a.port;
    s.baud = a.baud;
    s.parity = a.parity;
    s.data_bits = a.data_bits;
    s.stop_bits = a.stop_bits;
    s.flow_control = a.flow_control;
    s.rs485 = a.rs485;
    s.command_template = a.command_template.bytes;
    s.backoff_max = a.backoff_max;
    s.offline_after = a.offline_after;
    s.max_devices = a.max_devices;
    if (!s.command_template.empty() && s.command_template.find("{body}") == std::string::npos) {
      diag_.add(where_of(node, "command_template"), path + ".command_template",
                "must contain {body}, where the C2D body goes");
    }
    const auto* framing = section(node, "framing", path, false);
    if (framing) this->framing(*framing, path + ".framing", s.framing);
    const auto* parse = section(node, "parse", path, true);
    if (parse) this->parse(*parse, path + ".parse", s);
    if (const auto* poll = section(node, "poll", path, false)) {
      s.poll.emplace();
      this->poll(*poll, path + ".poll", s);
    }
  }

 private:
  const ConfigNode* section(const ConfigNode& node, std::string_view name, const std::string& path,
                            bool required) {
    const auto* n = node.find(name);
    if (n == nullptr || n->kind == Kind::null) {
      if (required) {
        diag_.add(node.where, path, "missing required key '" + std::string(name) + "' (a mapping)");
      }
      return nullptr;
    }
    if (n->kind != Kind::map) {
      diag_.add(n->where, path + "." + std::string(name),
                "expected a mapping with kind and its keys, " + config::got_text(*n));
      return nullptr;
    }
    return n;
  }

  // Keys that only some kinds use are refused elsewhere, so a typo'd kind or a key of another
  // kind is never silently ignored.
  void only_for(const ConfigNode& map, const std::string& path,
                const std::vector<std::string>& keys, bool applies, std::string_view kind_text) {
    if (applies) return;
    for (const auto& k : keys) {
      if (map.find(k)) {
        diag_.add(key_where(map, k), path + "." + k,
                  "does not apply to kind " + std::string(kind_text));
      }
    }
  }

  void framing(const ConfigNode& node, const std::string& path, FramingSettings& f) {
    FramingKeys k;
    config::apply_defaults(framing_fields(), k, diag_);
    const auto before = diag_.size();
    config::read_map(node, "", path, framing_fields(), k, diag_);
    if (diag_.size() != before) return;
    const auto kind_text = config::ValueTraits<FramingKind>::format(k.kind);
    only_for(node, path, {"delimiter", "strip_cr"}, k.kind == FramingKind::line, kind_text);
    only_for(node, path, {"length"}, k.kind == FramingKind::fixed, kind_text);
    only_for(node, path, {"start", "end", "escape"}, k.kind == FramingKind::delimited, kind_text);
    only_for(node, path, {"offset", "width", "order", "adjust"},
             k.kind == FramingKind::length_prefixed, kind_text);
    f.kind = k.kind;
    f.delimiter = k.delimiter.bytes;
    f.strip_cr = k.strip_cr;
    f.length = k.length;
    f.start = static_cast<char>(k.start.value);
    f.end = static_cast<char>(k.end.value);
    f.escape = k.escape.value;
    f.offset = k.offset;
    f.width = k.width;
    f.order = k.order;
    f.adjust = k.adjust;
    f.max_frame = k.max_frame;
    f.inter_byte_timeout = k.inter_byte_timeout;
    if (k.kind == FramingKind::line && f.delimiter.empty()) {
      diag_.add(where_of(node, "delimiter"), path + ".delimiter", "must not be empty");
    }
    if (k.kind == FramingKind::fixed) {
      if (!node.find("length")) {
        diag_.add(node.where, path, "missing required key 'length' (integer) for kind fixed");
      } else if (f.length < 1 || f.length > f.max_frame) {
        diag_.add(where_of(node, "length"), path + ".length",
                  "must be between 1 and max_frame " + std::to_string(f.max_frame) + ", got " +
                      std::to_string(f.length));
      }
    }
    if (k.kind == FramingKind::delimited) {
      if (k.start.value < 0 || k.end.value < 0) {
        diag_.add(where_of(node, k.start.value < 0 ? "start" : "end"),
                  path + (k.start.value < 0 ? ".start" : ".end"), "must be set for kind delimited");
      } else if (f.start == f.end) {
        diag_.add(where_of(node, "end"), path + ".end", "must differ from start");
      } else if (f.escape >= 0 &&
                 (static_cast<char>(f.escape) == f.start || static_cast<char>(f.escape) == f.end)) {
        diag_.add(where_of(node, "escape"), path + ".escape", "must differ from start and end");
      }
    }
    if (k.kind == FramingKind::length_prefixed) {
      if (f.width == 3) {
        diag_.add(where_of(node, "width"), path + ".width", "must be 1, 2 or 4, got 3");
      }
      if (f.offset + f.width > f.max_frame) {
        diag_.add(where_of(node, "offset"), path + ".offset",
                  "the length field ends past max_frame " + std::to_string(f.max_frame));
      }
    }
  }

  // Frame fields the parse kind knows by name before any frame arrives; nullopt when any name
  // can occur (json, kv).
  std::optional<std::vector<std::string>> known_names_;

  void parse(const ConfigNode& node, const std::string& path, SerialSettings& s) {
    auto& p = s.parse;
    ParseKeys k;
    config::apply_defaults(parse_fields(), k, diag_);
    const auto before = diag_.size();
    config::read_map(node, "", path, parse_fields(), k, diag_, {"types", "columns", "fields"});
    if (diag_.size() != before) return;
    const auto kind_text = config::ValueTraits<ParseKind>::format(k.kind);
    only_for(node, path, {"pattern"}, k.kind == ParseKind::regex, kind_text);
    only_for(node, path, {"columns"}, k.kind == ParseKind::csv, kind_text);
    only_for(node, path, {"separator"}, k.kind == ParseKind::csv || k.kind == ParseKind::kv,
             kind_text);
    only_for(node, path, {"assign"}, k.kind == ParseKind::kv, kind_text);
    only_for(node, path, {"types"}, k.kind != ParseKind::json && k.kind != ParseKind::binary,
             kind_text);
    only_for(node, path, {"fields", "checksum", "checksum_from", "checksum_order"},
             k.kind == ParseKind::binary, kind_text);
    p.kind = k.kind;
    p.pattern = k.pattern;
    p.separator = !k.separator.empty() ? k.separator : k.kind == ParseKind::kv ? " " : ",";
    p.assign = k.assign.empty() ? "=" : k.assign;
    p.checksum = k.checksum;
    p.checksum_from = k.checksum_from;
    p.checksum_order = k.checksum_order.value_or(
        k.checksum == ChecksumKind::crc16_modbus ? ByteOrder::little : ByteOrder::big);
    p.address = k.address;
    switch (k.kind) {
      case ParseKind::regex: {
        if (!node.find("pattern")) {
          diag_.add(node.where, path, "missing required key 'pattern' (string) for kind regex");
          break;
        }
        std::string why;
        auto re = NamedRegex::compile(p.pattern, why);
        if (!re) {
          diag_.add(where_of(node, "pattern"), path + ".pattern", why);
        } else if (re->names().empty()) {
          diag_.add(where_of(node, "pattern"), path + ".pattern",
                    "has no named group (?<name>…), so a frame would give no values");
        } else {
          known_names_ = re->names();
        }
        break;
      }
      case ParseKind::csv:
        columns(node, path, p);
        break;
      case ParseKind::binary:
        fields(node, path, s);
        break;
      case ParseKind::json:
      case ParseKind::kv:
        break;
    }
    types(node, path, p);
    if (!p.address.empty() && known_names_ &&
        std::find(known_names_->begin(), known_names_->end(), p.address) == known_names_->end()) {
      diag_.add(
          where_of(node, "address"), path + ".address",
          "'" + p.address + "' is not a field of this frame (fields: " + join(*known_names_) + ")");
    }
  }

  static std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names)
      out += (out.empty() ? "" : ", ") + n;
    return out;
  }

  void columns(const ConfigNode& node, const std::string& path, ParseSettings& p) {
    const auto* c = node.find("columns");
    if (c == nullptr) {
      diag_.add(node.where, path, "missing required key 'columns' (a list of names) for kind csv");
      return;
    }
    if (c->kind == Kind::scalar) {
      std::string_view rest = c->scalar;
      for (;;) {
        const auto comma = rest.find(',');
        auto name = rest.substr(0, comma);
        while (name.starts_with(' '))
          name.remove_prefix(1);
        while (name.ends_with(' '))
          name.remove_suffix(1);
        p.columns.emplace_back(name);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    } else if (c->kind == Kind::sequence) {
      for (const auto& item : c->items) {
        if (item.kind != Kind::scalar) {
          diag_.add(item.where, path + ".columns",
                    "expected a column name, " + config::got_text(item));
          return;
        }
        p.columns.push_back(item.scalar);
      }
    } else {
      diag_.add(c->where, path + ".columns",
                "expected a list of column names, " + config::got_text(*c));
      return;
    }
    std::vector<std::string> names;
    for (const auto& name : p.columns) {
      if (name.empty() || name == "_") continue;
      if (!valid_value_name(name) || std::find(names.begin(), names.end(), name) != names.end()) {
        diag_.add(c->where, path + ".columns",
                  "column '" + name + "' is " +
                      (valid_value_name(name) ? "named twice"
                                              : "not a name of letters, digits, '_', '-' or '.'"));
        return;
      }
      names.push_back(name);
    }
    known_names_ = names;
  }

  void fields(const ConfigNode& node, const std::string& path, SerialSettings& s) {
    auto& p = s.parse;
    const auto* list = node.find("fields");
    if (list == nullptr || list->kind != Kind::sequence || list->items.empty()) {
      diag_.add(list ? list->where : node.where, path + (list ? ".fields" : ""),
                list ? "expected a list of fields, " + (list->kind == Kind::sequence
                                                            ? std::string("got an empty list")
                                                            : config::got_text(*list))
                     : "missing required key 'fields' (a list) for kind binary");
      return;
    }
    const auto limit =
        s.framing.kind == FramingKind::fixed ? s.framing.length : s.framing.max_frame;
    std::vector<std::string> names;
    for (size_t i = 0; i < list->items.size(); ++i) {
      const auto& item = list->items[i];
      const auto fpath = path + ".fields[" + std::to_string(i) + "]";
      if (item.kind != Kind::map) {
        diag_.add(item.where, fpath,
                  "expected a mapping with name, offset and type, " + config::got_text(item));
        continue;
      }
      FieldKeys k;
      config::apply_defaults(binary_field_fields(), k, diag_);
      const auto before = diag_.size();
      config::read_map(item, "", fpath, binary_field_fields(), k, diag_);
      if (diag_.size() != before) continue;
      if (!valid_value_name(k.name)) {
        diag_.add(where_of(item, "name"), fpath + ".name",
                  "expected a name of letters, digits, '_', '-' or '.', got '" + k.name + "'");
        continue;
      }
      if (std::find(names.begin(), names.end(), k.name) != names.end()) {
        diag_.add(where_of(item, "name"), fpath + ".name", "field '" + k.name + "' is named twice");
        continue;
      }
      const auto size = static_cast<I64>(binary_size(k.type));
      if (k.offset + size > limit) {
        diag_.add(where_of(item, "offset"), fpath + ".offset",
                  config::ValueTraits<BinaryType>::format(k.type) + " at offset " +
                      std::to_string(k.offset) + " ends past the frame's " +
                      (s.framing.kind == FramingKind::fixed ? "length " : "max_frame ") +
                      std::to_string(limit));
        continue;
      }
      if (k.scale == 0.0) {
        diag_.add(where_of(item, "scale"), fpath + ".scale", "must not be 0");
        continue;
      }
      names.push_back(k.name);
      p.fields.push_back({k.name, static_cast<std::size_t>(k.offset), k.type, k.order, k.scale});
    }
    known_names_ = names;
  }

  void types(const ConfigNode& node, const std::string& path, ParseSettings& p) {
    const auto* t = node.find("types");
    if (t == nullptr || t->kind == Kind::null) return;
    if (t->kind != Kind::map) {
      diag_.add(t->where, path + ".types",
                "expected a mapping of field name to type, " + config::got_text(*t));
      return;
    }
    for (size_t i = 0; i < t->entries.size(); ++i) {
      const auto& [name, value] = t->entries[i];
      if (known_names_ &&
          std::find(known_names_->begin(), known_names_->end(), name) == known_names_->end()) {
        diag_.add(
            t->key_locations[i], path + ".types." + name,
            "'" + name + "' is not a field of this frame (fields: " + join(*known_names_) + ")");
        continue;
      }
      const auto parsed = value.kind == Kind::scalar
                              ? config::ValueTraits<FieldType>::parse(value.scalar, {})
                              : config::Parsed<FieldType>::fail(
                                    "expected " + config::ValueTraits<FieldType>::type_name() +
                                    ", " + config::got_text(value));
      if (!parsed.value) {
        diag_.add(value.where, path + ".types." + name, parsed.error);
        continue;
      }
      p.types[name] = *parsed.value;
    }
  }

  void poll(const ConfigNode& node, const std::string& path, SerialSettings& s) {
    auto& poll = *s.poll;
    PollKeys k;
    config::apply_defaults(poll_fields(), k, diag_);
    config::read_map(node, "", path, poll_fields(), k, diag_, {"addresses"});
    poll.request = k.request.bytes;
    poll.every = k.every;
    poll.timeout = k.timeout;
    if (node.find("request") && poll.request.empty()) {
      diag_.add(where_of(node, "request"), path + ".request", "must not be empty");
    }
    if (poll.timeout > poll.every && node.find("timeout")) {
      diag_.add(where_of(node, "timeout"), path + ".timeout",
                "must not be longer than poll.every (" + config::format_duration(poll.every) + ")");
    }
    const auto* list = node.find("addresses");
    const bool templated = poll.request.find("{address}") != std::string::npos;
    if (list == nullptr) {
      if (templated) {
        diag_.add(where_of(node, "request"), path + ".request",
                  "uses {address} but poll.addresses is not set");
      }
      return;
    }
    if (list->kind != Kind::sequence || list->items.empty()) {
      diag_.add(list->where, path + ".addresses",
                "expected a list of device addresses, " + (list->kind == Kind::sequence
                                                               ? std::string("got an empty list")
                                                               : config::got_text(*list)));
      return;
    }
    for (const auto& item : list->items) {
      const bool ok =
          item.kind == Kind::scalar && !item.scalar.empty() &&
          std::none_of(item.scalar.begin(), item.scalar.end(), [](char c) { return c <= ' '; });
      if (!ok) {
        diag_.add(
            item.where, path + ".addresses",
            "expected an address without spaces, " +
                (item.kind == Kind::scalar ? "got '" + item.scalar + "'" : config::got_text(item)));
        return;
      }
      if (std::find(poll.addresses.begin(), poll.addresses.end(), item.scalar) !=
          poll.addresses.end()) {
        diag_.add(item.where, path + ".addresses", "address '" + item.scalar + "' is listed twice");
        return;
      }
      poll.addresses.push_back(item.scalar);
    }
    if (s.parse.address.empty()) {
      diag_.add(list->where, path + ".addresses",
                "needs parse.address, the frame field that tells the devices' answers apart");
    } else if (!templated && poll.addresses.size() > 1) {
      diag_.add(where_of(node, "request"), path + ".request",
                "must contain {address} to ask each of poll.addresses in turn");
    }
  }

  Diagnostics& diag_;
};

}  // namespace

std::shared_ptr<const SerialSettings> parse_serial_settings(const ConfigNode& node,
                                                            const std::string& path,
                                                            Diagnostics& diagnostics) {
  return config::parse_adapter<SerialSettings>(
      node, diagnostics, [&](SerialSettings& s) { Parser(diagnostics).adapter(node, path, s); });
}

std::string serial_schema_reference() {
  auto out = config::reference_header();
  out += config::reference_rows("", adapter_fields());
  out += config::reference_rows("framing.", framing_fields());
  out += config::reference_rows("parse.", parse_fields());
  out +=
      "| `parse.types` | mapping of field → one of: string, int64, uint64, float64, bool | "
      "string | | regex, csv, kv: the type of each named field. |\n";
  out += "| `parse.columns` | list of names | required for csv | | csv: column names; _ skips. |\n";
  out += config::reference_rows("parse.fields[].", binary_field_fields());
  out += config::reference_rows("poll.", poll_fields());
  out += "| `poll.addresses` | list | | | Addresses polled in turn (needs parse.address). |\n";
  return out;
}

}  // namespace fieldlink::serial
