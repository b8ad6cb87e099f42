// The modbus-tcp and modbus-rtu config sections: every key parsed into typed settings, defaults,
// Modicon addressing, and errors at their exact positions (more cases in the invalid table).
#include <gtest/gtest.h>

#include "../unit/config_test_support.hpp"
#include "adapters/builtin.hpp"
#include "adapters/modbus/modbus_settings.hpp"
#include "config/loader.hpp"

namespace fieldlink::modbus {
namespace {

using namespace std::chrono_literals;
using K = PointType::Kind;

config::LoadResult load(const std::string& yaml, fieldlink::testing::TempDir& dir) {
  return config::load_config(dir.write("fieldlink.yaml", yaml), builtin_adapters());
}

const ModbusSettings& settings(const config::LoadResult& r, size_t i = 0) {
  return dynamic_cast<const ModbusSettings&>(*r.config->adapters.at(i).settings);
}

TEST(ModbusSettings, RtuAdapterWithEveryKey) {
  fieldlink::testing::TempDir dir;
  const auto r = load(R"(adapters:
  - name: boiler-line
    type: modbus-rtu
    port: /dev/serial/by-id/usb-FTDI_FT232R-if00-port0
    baud: 9600
    parity: none
    data_bits: 7
    stop_bits: 2
    rs485: true
    turnaround_delay: 5ms
    response_timeout: 300ms
    byte_timeout: 20ms
    backoff_max: 30s
    offline_after: 3
    devices:
      - unit: 3
        poll: 5s
        max_registers: 60
        max_bits: 100
        max_gap: 8
        read_back: true
        points:
          - { name: supply_temp, table: holding, address: 100, type: float32, order: CDAB, unit: "°C" }
          - { name: pressure, table: input, address: 10, type: uint16, scale: 0.01, offset: -1, deadband: 0.02, heartbeat: 1m }
          - { name: setpoint, table: holding, address: 110, type: int16, writable: true, min: 5, max: 90, report: always, poll: 500ms }
          - { name: serial_no, table: holding, address: 200, type: string(10), order: BADC }
)",
                      dir);
  ASSERT_TRUE(r.config) << r.diagnostics.to_string();
  const auto& s = settings(r);
  EXPECT_EQ(s.transport, Transport::rtu);
  EXPECT_EQ(s.serial_port, "/dev/serial/by-id/usb-FTDI_FT232R-if00-port0");
  EXPECT_EQ(s.baud, 9600);
  EXPECT_EQ(s.parity, Parity::none);
  EXPECT_EQ(s.data_bits, 7);
  EXPECT_EQ(s.stop_bits, 2);
  EXPECT_TRUE(s.rs485);
  EXPECT_EQ(s.turnaround_delay, 5ms);
  EXPECT_EQ(s.response_timeout, 300ms);
  EXPECT_EQ(s.byte_timeout, 20ms);
  EXPECT_EQ(s.backoff_max, 30s);
  EXPECT_EQ(s.offline_after, 3);
  ASSERT_EQ(s.devices.size(), 1u);
  const auto& d = s.devices[0];
  EXPECT_EQ(d.unit, 3);
  EXPECT_EQ(d.poll, 5s);
  EXPECT_EQ(d.max_registers, 60);
  EXPECT_EQ(d.max_bits, 100);
  EXPECT_EQ(d.max_gap, 8);
  EXPECT_TRUE(d.read_back);
  ASSERT_EQ(d.points.size(), 4u);
  EXPECT_EQ(d.points[0].order, WordOrder::cdab);
  EXPECT_EQ(d.points[0].unit, "°C");
  EXPECT_EQ(d.points[1].report, Report::change);  // a deadband implies it
  EXPECT_DOUBLE_EQ(d.points[1].deadband, 0.02);
  EXPECT_DOUBLE_EQ(d.points[1].offset, -1);
  EXPECT_EQ(d.points[1].heartbeat, 1min);
  EXPECT_EQ(d.points[2].min, 5);
  EXPECT_EQ(d.points[2].max, 90);
  EXPECT_EQ(d.points[2].poll, 500ms);
  EXPECT_EQ(d.points[3].type, (PointType{K::text, 10}));
  EXPECT_EQ(d.points[3].width(), 5);
}

TEST(ModbusSettings, TcpDefaultsAndModiconAddresses) {
  fieldlink::testing::TempDir dir;
  const auto r = load(R"(adapters:
  - name: press-plc
    type: modbus-tcp
    host: 10.0.4.20
    devices:
      - unit: 1
        addressing: modicon
        points:
          - { name: cycles, address: 40001, type: uint32 }
          - { name: running, address: 1, type: bool }
          - { name: door, address: 10005, type: bool }
          - { name: temp, table: input, address: 30011, type: int16 }
          - { name: high, address: 465536, type: uint16 }
      - unit: 0
        points:
          - { name: x, table: holding, address: 0, type: uint16 }
)",
                      dir);
  ASSERT_TRUE(r.config) << r.diagnostics.to_string();
  const auto& s = settings(r);
  EXPECT_EQ(s.tcp_port, 502);
  EXPECT_EQ(s.response_timeout, 1s);
  EXPECT_EQ(s.offline_after, 2);
  EXPECT_EQ(s.endpoint(), "10.0.4.20:502");
  const auto& p = s.devices[0].points;
  EXPECT_EQ(p[0].table, Table::holding);
  EXPECT_EQ(p[0].address, 0);
  EXPECT_EQ(p[1].table, Table::coil);
  EXPECT_EQ(p[1].address, 0);
  EXPECT_EQ(p[2].table, Table::discrete);
  EXPECT_EQ(p[2].address, 4);
  EXPECT_EQ(p[3].table, Table::input);
  EXPECT_EQ(p[3].address, 10);
  EXPECT_EQ(p[4].address, 65535);
  EXPECT_EQ(s.devices[0].poll, 1s);
  EXPECT_EQ(s.devices[0].max_registers, 125);
  EXPECT_EQ(s.devices[0].max_bits, 2000);
  EXPECT_EQ(s.devices[0].max_gap, 0);
  EXPECT_EQ(p[0].report, Report::always);
}

TEST(ModbusSettings, MistakesAreReportedWithTheirPositions) {
  fieldlink::testing::TempDir dir;
  const auto r = load(R"(adapters:
  - name: plc
    type: modbus-tcp
    host: 127.0.0.1
    response_timout: 1s
    devices:
      - unit: 1
        points:
          - { name: a, table: holding, address: 65535, type: float32 }
          - { name: b, table: holding, address: 0, type: string(300) }
          - { name: c, table: input, address: 0, type: int16, deadband: 1, report: always }
)",
                      dir);
  ASSERT_FALSE(r.config);
  const auto text = r.diagnostics.to_string();
  const auto file = dir.path().string() + "/fieldlink.yaml";
  EXPECT_NE(text.find(file + ":5:5: adapters[0].response_timout: unknown key 'response_timout' "
                             "(did you mean 'response_timeout'?)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(file + ":9:62: adapters[0].devices[0].points[0].type: float32 at address "
                             "65535 needs 2 registers and runs past the last address 65535"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(file + ":10:58: adapters[0].devices[0].points[1].type: string(N) needs N "
                             "between 1 and 250"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(file + ":11:73: adapters[0].devices[0].points[2].deadband: a deadband has "
                             "no effect with report: always"),
            std::string::npos)
      << text;
}

TEST(ModbusSettings, ReferenceListsTheKeys) {
  const auto ref = modbus_schema_reference(Transport::rtu);
  EXPECT_NE(ref.find("| `baud` | integer | `19200` |"), std::string::npos) << ref;
  EXPECT_NE(ref.find("| `devices[].points[].order` |"), std::string::npos);
}

}  // namespace
}  // namespace fieldlink::modbus
