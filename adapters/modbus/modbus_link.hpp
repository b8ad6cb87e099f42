#pragma once
// The seam in front of libmodbus: one master on one bus (a TCP connection or a serial line).
// LibmodbusLink is the real one; unit tests drive every error path with a scripted fake.
// Thread: owned and called by the bus's lane only. Calls block for at most the response timeout.
// Errors are values, never exceptions.
#include <cstdint>
#include <span>
#include <string>

#include "adapters/modbus/point_type.hpp"

namespace fieldlink::modbus {

struct LinkStatus {
  enum class Kind {
    ok,
    exception,     // the unit answered with a Modbus exception; `code` holds it (1 .. 11)
    timeout,       // no answer within the response timeout (absent or silent unit)
    bad_frame,     // an answer that does not check (CRC, length, unit, function)
    disconnected,  // the link itself failed (connect refused, peer closed, device unplugged)
  };
  Kind kind = Kind::ok;
  int code = 0;        // Modbus exception code, or errno
  std::string detail;  // for logs and outcomes

  bool ok() const { return kind == Kind::ok; }
  static LinkStatus success() { return {}; }
};

class ModbusLink {
 public:
  virtual ~ModbusLink() = default;

  virtual bool connected() const = 0;
  // Opens the TCP connection or the serial port. `warning` receives anything worth logging
  // that does not stop the link (RS-485 mode refused by a port that is not RS-485).
  virtual LinkStatus connect(std::string& warning) = 0;
  virtual void close() = 0;

  // FC1/FC2 (one 0/1 per bit in `out`) or FC3/FC4 by table; out.size() is the count.
  virtual LinkStatus read(std::uint8_t unit, Table table, std::uint16_t address,
                          std::span<std::uint16_t> out) = 0;
  // FC5 for one coil, FC15 for several.
  virtual LinkStatus write_coils(std::uint8_t unit, std::uint16_t address,
                                 std::span<const std::uint16_t> bits) = 0;
  // FC6 for one register, FC16 for several (a multi-register value is one request).
  virtual LinkStatus write_registers(std::uint8_t unit, std::uint16_t address,
                                     std::span<const std::uint16_t> words) = 0;
};

}  // namespace fieldlink::modbus
