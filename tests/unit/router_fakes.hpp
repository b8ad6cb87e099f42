#pragma once
// Stand-ins for the router's neighbours that a test does not look at: a log that drops lines, an
// outbox with nothing in it, a downlink handler and an intake that take everything, a
// command queue that keeps nothing.
#include "core/log.hpp"
#include "hub/outbox.hpp"
#include "hub/upstream.hpp"
#include "router/router.hpp"

namespace fieldlink::test {

class QuietLog final : public Logger {
 public:
  void log(LogLevel, const LogFields&, std::string_view) override {}
};

class NoOutbox final : public hub::Outbox {
 public:
  void peek(const Identity&, std::uint64_t, std::size_t,
            std::function<void(std::vector<Entry>)> done) override {
    done({});
  }
  void ack(const Identity&, std::uint64_t) override {}
  void reject(const Identity&, std::uint64_t, std::string_view) override {}
};

class NoDownlink final : public hub::DownlinkHandler {
 public:
  void downlink(hub::Downlink, hub::SettleDownlink complete) override {
    complete(hub::Settle::taken);
  }
};

class NoIntake final : public TelemetryIntake {
 public:
  bool append(Message) override { return true; }
};

class NoCommands final : public CommandQueue {
 public:
  void put(Command, std::chrono::system_clock::time_point,
           std::function<void(std::int64_t, const std::string&)> stored) override {
    stored(0, "not kept here");
  }
  void due(std::size_t, std::function<void(std::vector<QueuedCommand>)> done) override { done({}); }
  void attempted(std::int64_t, std::chrono::system_clock::time_point) override {}
  void done(std::int64_t) override {}
};

}  // namespace fieldlink::test
