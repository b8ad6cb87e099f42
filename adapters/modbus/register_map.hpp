#pragma once
// One device's typed register map as validated from the config: its points, where they live and
// how they are decoded, scaled, reported and written. Immutable once built; shared read-only by
// the core loop (command validation, /status) and the bus lane (polling).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "adapters/modbus/point_type.hpp"

namespace fieldlink::modbus {

struct Point {
  std::string name;
  Table table = Table::holding;
  std::uint16_t address = 0;  // 0-based PDU address
  PointType type;
  WordOrder order = WordOrder::abcd;
  double scale = 1.0;
  double offset = 0.0;
  std::string unit;
  double deadband = 0.0;
  Report report = Report::always;
  std::chrono::milliseconds heartbeat{0};  // 0: none
  bool writable = false;
  std::optional<double> min;
  std::optional<double> max;
  std::chrono::milliseconds poll{0};  // 0: the device's interval

  // Registers (or bits) the point occupies in its table.
  int width() const { return is_bit_table(table) ? 1 : type.registers(); }
  bool scaled() const { return scale != 1.0 || offset != 0.0; }
};

struct DeviceMap {
  std::uint8_t unit = 1;
  std::chrono::milliseconds poll{1000};
  int max_registers = 125;  // per FC3/FC4 request; the protocol's limit is 125
  int max_bits = 2000;      // per FC1/FC2 request; the protocol's limit is 2000
  int max_gap = 0;          // unused registers (or bits) a request may span to join two points
  bool read_back = false;   // read written registers back and compare
  std::vector<Point> points;

  const Point* find(std::string_view name) const {
    for (const auto& p : points) {
      if (p.name == name) return &p;
    }
    return nullptr;
  }
};

}  // namespace fieldlink::modbus
