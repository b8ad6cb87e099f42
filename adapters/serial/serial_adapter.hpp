#pragma once
// The serial adapter (type `serial`): one port per adapter, on the core loop. Bytes are cut into
// frames (Framer), frames into typed values (FrameParser), values into readings of
// serial://<adapter> or, with parse.address, serial://<adapter>/<address>. Optional polling and
// downlink (C2D bodies, the `send` method) share the line one transaction at a time, so a
// half-duplex RS-485 line never has two requests on it.
// Thread: every public member on the core loop (Adapter's contract). Errors at run time are
// counted per device, logged rate-limited and shown by describe(); nothing throws.
#include <memory>

#include "adapters/serial/serial_settings.hpp"
#include "core/adapter.hpp"
#include "core/adapter_registry.hpp"

namespace fieldlink::serial {

class SerialAdapter final : public Adapter {
 public:
  SerialAdapter(AdapterContext context, std::shared_ptr<const SerialSettings> settings);
  ~SerialAdapter() override;

  const AdapterName& name() const override { return settings_->name; }
  void start() override;
  void stop(std::function<void()> done) override;
  void execute(const Command& command, OutcomeHandler handler) override;
  void describe(nlohmann::json& out) const override;

 private:
  class Bus;  // the line, its devices and transactions; handlers hold it weakly

  AdapterContext context_;
  std::shared_ptr<const SerialSettings> settings_;
  std::shared_ptr<Bus> bus_;
};

// The adapter type for adapters/builtin.cpp.
AdapterType serial_type();

}  // namespace fieldlink::serial
