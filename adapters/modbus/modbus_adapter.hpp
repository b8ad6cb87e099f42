#pragma once
// The Modbus adapter (types modbus-tcp and modbus-rtu): one bus per adapter, driven on its own
// lane by a ModbusBus; readings, counters and command outcomes are posted back to the core loop.
// Thread: every public member on the core loop (Adapter's contract). Errors at run time are
// counted, logged once per transition and shown by describe(); nothing throws.
#include <memory>
#include <vector>

#include "adapters/modbus/modbus_link.hpp"
#include "adapters/modbus/modbus_settings.hpp"
#include "adapters/modbus/poll_plan.hpp"
#include "core/adapter.hpp"
#include "core/adapter_registry.hpp"

namespace fieldlink::modbus {

class ModbusBus;

class ModbusAdapter final : public Adapter {
 public:
  // `link` replaces libmodbus (tests); nullptr uses the real LibmodbusLink.
  ModbusAdapter(AdapterContext context, std::shared_ptr<const ModbusSettings> settings,
                std::unique_ptr<ModbusLink> link = nullptr);
  ~ModbusAdapter() override;

  const AdapterName& name() const override { return settings_->name; }
  void start() override;
  void stop(std::function<void()> done) override;
  void execute(const Command& command, OutcomeHandler handler) override;
  void describe(nlohmann::json& out) const override;

  const std::vector<PollPlan>& plans() const { return plans_; }

 private:
  struct State;
  class Events;

  void submit(struct BusJob job, OutcomeHandler& handler);

  AdapterContext context_;
  std::shared_ptr<const ModbusSettings> settings_;
  std::vector<PollPlan> plans_;
  std::shared_ptr<State> state_;
  std::unique_ptr<Lane> lane_;
  std::shared_ptr<ModbusBus> bus_;
};

// The two adapter types for adapters/builtin.cpp.
AdapterType modbus_tcp_type();
AdapterType modbus_rtu_type();

}  // namespace fieldlink::modbus
