#pragma once
// The BLE adapter (type `ble`): GATT devices connected through BlueZ (read on a schedule,
// notifications, writes) and advertising sensors heard while scanning, each device its own
// source ble://<adapter>/<MAC>. BlueZ is reached through a BluezLink, whose D-Bus side runs on
// its own thread; everything here runs on the core loop.
// Connections: at most max_connections at once, the rest queued in order; a lost device is
// retried with exponential backoff and full jitter; a controller that disappears or powers off
// takes every device offline, and they are reconnected when it is back, without a restart.
// Thread: every public member on the core loop (Adapter's contract). Run-time errors are values,
// counted per device and shown by describe(); nothing throws.
#include <memory>

#include "adapters/ble/ble_settings.hpp"
#include "adapters/ble/bluez_link.hpp"
#include "core/adapter.hpp"
#include "core/adapter_registry.hpp"
#include "core/rng.hpp"

namespace fieldlink::ble {

class BleAdapter final : public Adapter {
 public:
  BleAdapter(AdapterContext context, std::shared_ptr<const BleSettings> settings,
             std::unique_ptr<BluezLink> link, std::unique_ptr<Rng> rng);
  ~BleAdapter() override;

  const AdapterName& name() const override { return settings_->name; }
  void start() override;
  void stop(std::function<void()> done) override;
  void execute(const Command& command, OutcomeHandler handler) override;
  void describe(nlohmann::json& out) const override;

 private:
  class Core;  // devices, objects, timers; handlers hold it weakly

  AdapterContext context_;
  std::shared_ptr<const BleSettings> settings_;
  std::unique_ptr<BluezLink> link_;
  std::unique_ptr<Rng> rng_;
  std::shared_ptr<Core> core_;
};

// The adapter type for adapters/builtin.cpp: BlueZ on the system bus, system randomness.
AdapterType ble_type();

}  // namespace fieldlink::ble
