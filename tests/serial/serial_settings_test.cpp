// The serial adapter's config section: a full valid entry parsed into typed settings, and
// mistakes reported with their exact file:line:column and key path, all in one pass.
#include "adapters/serial/serial_settings.hpp"

#include <gtest/gtest.h>

#include "../unit/config_test_support.hpp"
#include "adapters/builtin.hpp"
#include "config/loader.hpp"

namespace fieldlink::serial {
namespace {

struct Loaded {
  std::shared_ptr<const SerialSettings> settings;
  std::string errors;  // diagnostics with the temp folder's path cut off
};

Loaded load(const std::string& adapter_yaml) {
  testing::TempDir dir;
  const auto path = dir.write("f.yaml", "adapters:\n" + adapter_yaml);
  const auto r = config::load_config(path, builtin_adapters());
  Loaded out;
  if (r.config) {
    out.settings =
        std::dynamic_pointer_cast<const SerialSettings>(r.config->adapters.at(0).settings);
  }
  out.errors = r.diagnostics.to_string();
  for (auto at = out.errors.find(dir.path().string() + "/"); at != std::string::npos;
       at = out.errors.find(dir.path().string() + "/"))
    out.errors.erase(at, dir.path().string().size() + 1);
  return out;
}

TEST(SerialSettings, TheExampleScaleParses) {
  const auto l = load(R"(  - name: scale
    type: serial
    port: /dev/ttyS1
    baud: 9600
    framing: { kind: line, delimiter: "\r\n", max_frame: 256 }
    parse: { kind: regex, pattern: '^(?<status>ST|US),GS,(?<weight>[+-]?[0-9.]+)kg$', types: { weight: float64 } }
    poll: { request: "P\r\n", every: 2s, timeout: 500ms }
)");
  ASSERT_TRUE(l.settings) << l.errors;
  const auto& s = *l.settings;
  EXPECT_EQ(s.port, "/dev/ttyS1");
  EXPECT_EQ(s.framing.kind, FramingKind::line);
  EXPECT_EQ(s.framing.delimiter, "\r\n");
  EXPECT_EQ(s.framing.max_frame, 256);
  EXPECT_EQ(s.parse.types.at("weight"), FieldType::float64);
  ASSERT_TRUE(s.poll);
  EXPECT_EQ(s.poll->request, "P\r\n");
  EXPECT_EQ(s.poll->every, std::chrono::seconds(2));
  EXPECT_EQ(s.parse.separator, ",");
}

TEST(SerialSettings, BinaryDelimitedAndPolledBus) {
  const auto l = load(R"(  - name: meters
    type: serial
    port: /dev/serial/by-id/usb-FTDI_FT232R-if00-port0
    parity: even
    rs485: true
    framing: { kind: delimited, start: 0x02, end: "\x03", escape: 0x10 }
    parse:
      kind: binary
      checksum: crc16-modbus
      checksum_from: 0
      address: addr
      fields:
        - { name: addr, offset: 0, type: uint8 }
        - { name: energy, offset: 1, type: uint32, order: little, scale: 0.01 }
    poll: { request: 'hex:02 10 41 03', addresses: [1, 2], every: 1s, timeout: 200ms }
)");
  EXPECT_FALSE(l.settings);  // the request has no {address} for two addresses
  EXPECT_EQ(l.errors,
            "f.yaml:16:22: adapters[0].poll.request: must contain {address} to ask each of "
            "poll.addresses in turn\n");
}

TEST(SerialSettings, MistakesAreReportedWithTheirPositions) {
  const auto l = load(R"(  - name: bad
    type: serial
    port: ttyUSB0
    baud: 12
    framing: { kind: fixed, delimiter: ";", max_frame: 8 }
    parse:
      kind: regex
      pattern: '^(?<w>[0-9]+)(?<w>x)$'
      columns: [a, b]
      types: { v: int32 }
    poll: { request: "A{address}\r", every: 1s, timeout: 2s }
    command_templat: "T"
)");
  EXPECT_FALSE(l.settings);
  EXPECT_EQ(
      l.errors,
      "f.yaml:4:11: adapters[0].port: expected an absolute device path such as "
      "/dev/serial/by-id/\u2026, got 'ttyUSB0'\n"
      "f.yaml:5:11: adapters[0].baud: must be between 50 and 4000000, got 12\n"
      "f.yaml:6:14: adapters[0].framing: missing required key 'length' (integer) for kind fixed\n"
      "f.yaml:6:29: adapters[0].framing.delimiter: does not apply to kind fixed\n"
      "f.yaml:9:16: adapters[0].parse.pattern: group name 'w' is used twice\n"
      "f.yaml:10:7: adapters[0].parse.columns: does not apply to kind regex\n"
      "f.yaml:11:19: adapters[0].parse.types.v: expected one of: string, int64, uint64, float64, "
      "bool, got 'int32'\n"
      "f.yaml:12:22: adapters[0].poll.request: uses {address} but poll.addresses is not set\n"
      "f.yaml:12:58: adapters[0].poll.timeout: must not be longer than poll.every (1s)\n"
      "f.yaml:13:5: adapters[0].command_templat: unknown key 'command_templat' (did you mean "
      "'command_template'?); valid keys: port, baud, parity, data_bits, stop_bits, flow_control, "
      "rs485, command_template, backoff_max, offline_after, max_devices, name, type, framing, "
      "parse, poll\n");
}

TEST(SerialSettings, FramingAndFieldMistakes) {
  const auto l = load(R"(  - name: bad
    type: serial
    port: /dev/ttyS0
    framing: { kind: delimited, start: 0x02, end: "\x02", max_frame: 16 }
    parse:
      kind: binary
      checksum: crc16
      fields:
        - { name: a, offset: 14, type: uint32 }
        - { name: a, offset: 0, type: uint8 }
        - { name: b, offset: 0, type: uint8, scale: 0 }
  - name: bad2
    type: serial
    port: /dev/ttyS1
    framing: { kind: length-prefixed, width: 3, escape: 0x10 }
    parse: { kind: csv, columns: "id, v", types: { w: float64 }, address: x }
    poll: { request: "?", addresses: [1, 1] }
)");
  EXPECT_FALSE(l.settings);
  EXPECT_EQ(
      l.errors,
      "f.yaml:5:51: adapters[0].framing.end: must differ from start\n"
      "f.yaml:8:17: adapters[0].parse.checksum: expected one of: none, sum8, xor8, "
      "crc16-modbus, crc16-ccitt, got 'crc16'\n"
      "f.yaml:16:46: adapters[1].framing.width: must be 1, 2 or 4, got 3\n"
      "f.yaml:16:49: adapters[1].framing.escape: does not apply to kind length-prefixed\n"
      "f.yaml:17:52: adapters[1].parse.types.w: 'w' is not a field of this frame (fields: "
      "id, v)\n"
      "f.yaml:17:75: adapters[1].parse.address: 'x' is not a field of this frame (fields: id, "
      "v)\n"
      "f.yaml:18:42: adapters[1].poll.addresses: address '1' is listed twice\n");
}

TEST(SerialSettings, BinaryFieldsMustFitTheFrame) {
  const auto l = load(R"(  - name: bad
    type: serial
    port: /dev/ttyS0
    framing: { kind: fixed, length: 6 }
    parse:
      kind: binary
      fields:
        - { name: a, offset: 0, type: uint8 }
        - { name: a, offset: 1, type: uint8 }
        - { name: b, offset: 4, type: uint32 }
        - { name: c, offset: 1, type: uint8, scale: 0 }
        - { name: d, offset: 1, type: int24 }
)");
  EXPECT_FALSE(l.settings);
  EXPECT_EQ(l.errors,
            "f.yaml:10:19: adapters[0].parse.fields[1].name: field 'a' is named twice\n"
            "f.yaml:11:30: adapters[0].parse.fields[2].offset: uint32 at offset 4 ends past the "
            "frame's length 6\n"
            "f.yaml:12:53: adapters[0].parse.fields[3].scale: must not be 0\n"
            "f.yaml:13:39: adapters[0].parse.fields[4].type: expected one of: uint8, int8, uint16, "
            "int16, uint32, int32, uint64, int64, float32, float64, got 'int24'\n");
}

}  // namespace
}  // namespace fieldlink::serial
