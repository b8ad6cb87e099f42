#pragma once
// ModbusLink on libmodbus 3.1: owns one modbus_t (RAII), maps errno to LinkStatus kinds, flushes
// the line after a timeout or a bad frame so a late answer cannot be taken for the next one.
// Thread: the bus lane's only.
#include <memory>

#include "adapters/modbus/modbus_link.hpp"
#include "adapters/modbus/modbus_settings.hpp"

struct _modbus;

namespace fieldlink::modbus {

class LibmodbusLink final : public ModbusLink {
 public:
  explicit LibmodbusLink(const ModbusSettings& settings);

  bool connected() const override { return connected_; }
  LinkStatus connect(std::string& warning) override;
  void close() override;
  LinkStatus read(std::uint8_t unit, Table table, std::uint16_t address,
                  std::span<std::uint16_t> out) override;
  LinkStatus write_coils(std::uint8_t unit, std::uint16_t address,
                         std::span<const std::uint16_t> bits) override;
  LinkStatus write_registers(std::uint8_t unit, std::uint16_t address,
                             std::span<const std::uint16_t> words) override;

 private:
  struct Free {
    void operator()(_modbus* ctx) const;
  };
  LinkStatus failed(std::string_view what);

  const ModbusSettings& settings_;
  std::unique_ptr<_modbus, Free> ctx_;
  bool connected_ = false;
};

}  // namespace fieldlink::modbus
