#pragma once
// Drives one Modbus adapter the way the daemon will: through AdapterContext, with a sink that
// records readings and a logger that records events, on a core loop run by the test thread.
// Waiting is always on an event with a deadline (run_until), never a sleep.
#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../unit/config_test_support.hpp"
#include "adapters/builtin.hpp"
#include "config/loader.hpp"
#include "core/adapter.hpp"
#include "core/lane.hpp"

namespace fieldlink::testing {

class RecordingSink final : public ReadingSink {
 public:
  Result push(Reading r) override {
    readings.push_back(std::move(r));
    return Result::accepted;
  }
  std::vector<Reading> readings;
};

class RecordingLog final : public Logger {
 public:
  void log(LogLevel, const LogFields& f, std::string_view message) override {
    events.emplace_back(std::string(f.event), std::string(message));
    std::fprintf(stderr, "  [log] %s: %.*s\n", std::string(f.event).c_str(),
                 static_cast<int>(message.size()), message.data());
  }
  size_t count(std::string_view event) const {
    size_t n = 0;
    for (const auto& [e, m] : events)
      n += e == event;
    return n;
  }
  std::vector<std::pair<std::string, std::string>> events;
};

class AdapterHarness {
 public:
  explicit AdapterHarness(const std::string& yaml) {
    const auto r = config::load_config(dir_.write("fieldlink.yaml", yaml), registry_);
    if (!r.config || r.config->adapters.size() != 1) {
      ADD_FAILURE() << "config refused:\n" << r.diagnostics.to_string();
      return;
    }
    const auto& a = r.config->adapters[0];
    AdapterContext ctx{loop_, sink, log, clock_,
                       [](std::string name) { return std::make_unique<Lane>(std::move(name)); }};
    adapter = registry_.find(a.type)->create(ctx, a.settings);
    adapter->start();
  }
  ~AdapterHarness() {
    if (!adapter) return;
    bool stopped = false;
    adapter->stop([&] { stopped = true; });
    run_until([&] { return stopped; }, std::chrono::seconds(10));
    adapter.reset();
  }

  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      loop_.run_one_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  std::optional<Outcome> call(Command::Kind kind, const std::string& target,
                              const std::string& name, const std::string& payload,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    Command c{kind, *SourceAddress::parse(target), name, {}, {}, {}, {}};
    c.payload = payload;
    c.deadline = clock_.now() + timeout;
    std::optional<Outcome> out;
    adapter->execute(c, [&](Outcome o) { out = std::move(o); });
    run_until([&] { return out.has_value(); }, timeout + std::chrono::seconds(5));
    return out;
  }

  size_t readings_of(const std::string& source, bool with_values = true) const {
    size_t n = 0;
    for (const auto& r : sink.readings)
      n += r.source.str() == source && (!with_values || !r.values.empty());
    return n;
  }
  const Reading* last_of(const std::string& source) const {
    for (auto it = sink.readings.rbegin(); it != sink.readings.rend(); ++it) {
      if (it->source.str() == source && !it->values.empty()) return &*it;
    }
    return nullptr;
  }
  nlohmann::json status() const {
    nlohmann::json j;
    adapter->describe(j);
    return j;
  }

  RecordingSink sink;
  RecordingLog log;
  std::unique_ptr<Adapter> adapter;

 private:
  TempDir dir_;
  AdapterRegistry registry_ = builtin_adapters();
  boost::asio::io_context loop_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_{
      loop_.get_executor()};
  SystemClock clock_;
};

}  // namespace fieldlink::testing
