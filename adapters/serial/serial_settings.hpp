#pragma once
// The validated settings of one `type: serial` adapter: the port and its line settings, how the
// byte stream is cut into frames, how a frame becomes typed values, the optional poll, and the
// downlink template. Built only by parse_serial_settings, which reports every mistake with its
// file:line:column and returns nullptr then. Immutable and shared afterwards.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/serial/checksum.hpp"
#include "core/adapter_registry.hpp"

namespace fieldlink::serial {

enum class Parity { none, even, odd };
enum class FlowControl { none, software, hardware };
enum class FramingKind { line, fixed, delimited, length_prefixed };
enum class ByteOrder { big, little };
enum class ParseKind { regex, csv, json, kv, binary };
// What a text field (regex group, CSV column, kv value) is converted to.
enum class FieldType { string, int64, uint64, float64, boolean };
enum class BinaryType {
  uint8,
  int8,
  uint16,
  int16,
  uint32,
  int32,
  uint64,
  int64,
  float32,
  float64
};

std::size_t binary_size(BinaryType type);

struct FramingSettings {
  FramingKind kind = FramingKind::line;
  std::string delimiter = "\n";  // line
  bool strip_cr = true;          // line
  std::int64_t length = 0;       // fixed
  char start = 0x02;             // delimited
  char end = 0x03;               // delimited
  int escape = -1;               // delimited; -1: none
  std::int64_t offset = 0;       // length-prefixed: where the length field is
  std::int64_t width = 1;        // length-prefixed: 1, 2 or 4 bytes
  ByteOrder order = ByteOrder::big;
  std::int64_t adjust = 0;  // length-prefixed: frame = offset + width + length + adjust
  std::int64_t max_frame = 512;
  std::chrono::milliseconds inter_byte_timeout{0};  // 0: no gap detection
};

struct BinaryField {
  std::string name;
  std::size_t offset = 0;
  BinaryType type = BinaryType::uint8;
  ByteOrder order = ByteOrder::big;
  double scale = 1.0;  // != 1 makes the value a float64
};

struct ParseSettings {
  ParseKind kind = ParseKind::regex;
  std::string pattern;                         // regex
  std::map<std::string, FieldType> types;      // regex, csv, kv; unlisted fields are strings
  std::vector<std::string> columns;            // csv; "" or "_" skips a column
  std::string separator;                       // csv (","), kv (" ")
  std::string assign = "=";                    // kv
  std::vector<BinaryField> fields;             // binary
  ChecksumKind checksum = ChecksumKind::none;  // binary: trailing bytes of the frame
  std::int64_t checksum_from = 0;              // first byte the checksum covers
  ByteOrder checksum_order = ByteOrder::little;
  std::string address;  // the field that carries the device address; "" for one device
};

struct PollSettings {
  std::string request;  // bytes; "{address}" is replaced by each address in turn
  std::chrono::milliseconds every{1000};
  std::chrono::milliseconds timeout{500};
  std::vector<std::string> addresses;
};

struct SerialSettings final : AdapterSettings {
  std::string port;  // e.g. /dev/serial/by-id/usb-FTDI_…; may be absent until plugged in
  std::int64_t baud = 9600;
  Parity parity = Parity::none;
  std::int64_t data_bits = 8;
  std::int64_t stop_bits = 1;
  FlowControl flow_control = FlowControl::none;
  bool rs485 = false;
  FramingSettings framing;
  ParseSettings parse;
  std::optional<PollSettings> poll;
  std::string command_template;  // "" → a C2D body is written as is
  std::chrono::milliseconds backoff_max{30000};
  std::int64_t offline_after = 3;
  std::int64_t max_devices = 32;
};

std::shared_ptr<const SerialSettings> parse_serial_settings(const ConfigNode& node,
                                                            const std::string& path,
                                                            Diagnostics& diagnostics);

// The key reference of the adapter type, as schema.cpp's reference table does for the daemon.
std::string serial_schema_reference();

}  // namespace fieldlink::serial
