#include "adapters/modbus/modbus_adapter.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <charconv>

#include <nlohmann/json.hpp>

#include "adapters/modbus/device_command.hpp"
#include "adapters/modbus/libmodbus_link.hpp"
#include "adapters/modbus/modbus_bus.hpp"
#include "core/lane.hpp"

namespace fieldlink::modbus {

// What the core loop knows of the bus: the latest counters per device and the link state.
// Shared with lambdas posted from the lane through weak pointers, so a result that arrives
// after the adapter is gone is dropped rather than used.
struct ModbusAdapter::State {
  State(ReadingSink& s, Logger& l) : sink(s), log(l) {}
  ReadingSink& sink;
  Logger& log;
  std::vector<DeviceCounters> devices;
  bool link_up = false;
  std::string link_message;
  std::uint64_t readings = 0;
  std::uint64_t readings_refused = 0;  // the sink pushed back
  std::uint64_t commands_refused = 0;  // the bus's command queue was full
};

class ModbusAdapter::Events final : public BusEvents {
 public:
  Events(boost::asio::io_context& loop, std::shared_ptr<const ModbusSettings> settings,
         std::weak_ptr<State> state)
      : loop_(loop), settings_(std::move(settings)), state_(std::move(state)) {}

  void reading(Reading r) override {
    on_core([r = std::move(r)](State& s) mutable {
      if (s.sink.push(std::move(r)) == ReadingSink::Result::accepted) {
        ++s.readings;
      } else {
        ++s.readings_refused;
      }
    });
  }
  void counters(size_t device, const DeviceCounters& c) override {
    on_core([device, c](State& s) { s.devices[device] = c; });
  }
  void transition(size_t device, UnitBreaker::State state, const std::string& why) override {
    const auto source =
        "modbus://" + settings_->name.str() + "/" + std::to_string(settings_->devices[device].unit);
    on_core([source, state, why, name = settings_->name.str(),
             backoff = settings_->backoff_max](State& s) {
      const LogFields f{.event = state == UnitBreaker::State::online ? "modbus.device_online"
                                                                     : "modbus.device_offline",
                        .adapter = name,
                        .source = source};
      if (state == UnitBreaker::State::online) {
        s.log.notice(f, source + " online");
      } else {
        s.log.warning(f, source + " offline (" + why + "); probing it with backoff up to " +
                             std::to_string(backoff.count()) + "ms");
      }
    });
  }
  void link(bool up, bool warning, const std::string& message) override {
    on_core([up, warning, message, name = settings_->name.str()](State& s) {
      const LogFields f{.event = warning ? "modbus.link_warning"
                                 : up    ? "modbus.link_up"
                                         : "modbus.link_down",
                        .adapter = name};
      if (warning) {
        s.log.warning(f, message);
        return;
      }
      s.link_up = up;
      s.link_message = message;
      up ? s.log.info(f, message) : s.log.error(f, message);
    });
  }

 private:
  template <class F>
  void on_core(F f) {
    boost::asio::post(loop_, [state = state_, f = std::move(f)]() mutable {
      if (auto s = state.lock()) f(*s);
    });
  }

  boost::asio::io_context& loop_;
  std::shared_ptr<const ModbusSettings> settings_;
  std::weak_ptr<State> state_;
};

ModbusAdapter::ModbusAdapter(AdapterContext context, std::shared_ptr<const ModbusSettings> settings,
                             std::unique_ptr<ModbusLink> link)
    : context_(std::move(context)), settings_(std::move(settings)) {
  for (const auto& d : settings_->devices)
    plans_.push_back(PollPlan::build(d));
  state_ = std::make_shared<State>(context_.sink, context_.log);
  state_->devices.resize(settings_->devices.size());
  if (!link) link = std::make_unique<LibmodbusLink>(*settings_);
  lane_ = context_.make_lane("mb-" + settings_->name.str());
  bus_ = std::make_shared<ModbusBus>(settings_, plans_, std::move(link), context_.clock,
                                     lane_->executor(),
                                     std::make_shared<Events>(context_.loop, settings_, state_));
}

ModbusAdapter::~ModbusAdapter() {
  // The bus and its timer must go on the lane, before the lane's io_context does.
  lane_->post([bus = std::move(bus_)]() mutable {
    bus->stop();
    bus.reset();
  });
  lane_.reset();
}

void ModbusAdapter::start() {
  lane_->post([bus = bus_] { bus->start(); });
}

void ModbusAdapter::stop(std::function<void()> done) {
  lane_->post([bus = bus_, loop = &context_.loop, done = std::move(done)]() mutable {
    bus->stop();
    boost::asio::post(*loop, std::move(done));
  });
}

void ModbusAdapter::submit(BusJob job, OutcomeHandler& handler) {
  lane_->post([bus = bus_, job = std::move(job), loop = &context_.loop,
               state = std::weak_ptr(state_), handler]() mutable {
    if (!bus->submit(std::move(job))) {
      boost::asio::post(*loop, [handler, state] {
        if (auto s = state.lock()) ++s->commands_refused;
        handler({503, R"({"status":503,"message":"the bus is not taking commands: )"
                      R"(stopping, or too many queued"})"});
      });
    }
  });
}

void ModbusAdapter::execute(const Command& command, OutcomeHandler handler) {
  const auto key = command.target.device_key();
  int unit = -1;
  std::from_chars(key.data(), key.data() + key.size(), unit);
  size_t device = settings_->devices.size();
  for (size_t i = 0; i < settings_->devices.size(); ++i) {
    if (settings_->devices[i].unit == unit) device = i;
  }
  if (command.target.adapter() != settings_->name.str() || device == settings_->devices.size()) {
    handler({404, R"({"status":404,"message":"no such Modbus device on this adapter"})"});
    return;
  }
  const auto& map = settings_->devices[device];
  auto deadline = command.deadline;
  if (deadline == std::chrono::steady_clock::time_point{}) {
    deadline = context_.clock.now() + std::chrono::seconds(30);
  }
  auto post_back = [loop = &context_.loop](std::function<void()> f) {
    boost::asio::post(*loop, std::move(f));
  };
  if (command.kind == Command::Kind::method && command.name == "read") {
    BusJob job{BusJob::Kind::read, device, {}, deadline, {}};
    job.done = [post_back, handler](JobResult r) {
      post_back([handler, r = std::move(r)] { handler(read_outcome(r)); });
    };
    submit(std::move(job), handler);
    return;
  }
  const bool write = command.kind == Command::Kind::c2d ||
                     (command.kind == Command::Kind::method && command.name == "write");
  if (!write && command.kind != Command::Kind::desired) {
    handler({400, R"({"status":400,"message":"unknown method; this device has: read, write"})"});
    return;
  }
  Outcome refused;
  auto parsed = command.kind == Command::Kind::desired
                    ? DeviceCommand::desired(map, command.payload, refused)
                    : DeviceCommand::write(map, command.payload, refused);
  if (!parsed) {
    handler(std::move(refused));
    return;
  }
  if (parsed->writes.empty()) {
    handler(parsed->outcome({}));
    return;
  }
  BusJob job{BusJob::Kind::write, device, parsed->writes, deadline, {}};
  job.done = [post_back, handler, cmd = std::move(*parsed)](JobResult r) {
    post_back([handler, cmd, r = std::move(r)] { handler(cmd.outcome(r.writes)); });
  };
  submit(std::move(job), handler);
}

void ModbusAdapter::describe(nlohmann::json& out) const {
  out["name"] = settings_->name.str();
  out["type"] = settings_->transport == Transport::tcp ? "modbus-tcp" : "modbus-rtu";
  out["endpoint"] = settings_->endpoint();
  out["link"] = {{"up", state_->link_up}, {"message", state_->link_message}};
  out["readings"] = state_->readings;
  out["readings_refused"] = state_->readings_refused;
  out["commands_refused"] = state_->commands_refused;
  auto& devices = out["devices"] = nlohmann::json::array();
  for (size_t i = 0; i < settings_->devices.size(); ++i) {
    const auto& d = settings_->devices[i];
    const auto& c = state_->devices[i];
    nlohmann::json j{
        {"source", "modbus://" + settings_->name.str() + "/" + std::to_string(d.unit)},
        {"unit", d.unit},
        {"state", c.state == UnitBreaker::State::online    ? "online"
                  : c.state == UnitBreaker::State::offline ? "offline"
                                                           : "unknown"},
        {"polls", c.polls},
        {"requests", c.requests},
        {"registers", c.registers},
        {"exceptions", c.exceptions},
        {"timeouts", c.timeouts},
        {"bad_frames", c.bad_frames},
        {"link_errors", c.link_errors},
        {"skipped", c.skipped},
        {"writes", c.writes},
        {"failed_writes", c.failed_writes},
        {"backoff_ms", c.backoff.count()},
        {"last_seen", c.last_seen ? nlohmann::json(utc_text(*c.last_seen)) : nlohmann::json()},
        {"last_error", c.last_error},
    };
    plans_[i].describe(d, j["plan"]);
    devices.push_back(std::move(j));
  }
}

namespace {

AdapterType make_type(Transport transport) {
  AdapterType t;
  t.type = transport == Transport::tcp ? "modbus-tcp" : "modbus-rtu";
  t.description = transport == Transport::tcp
                      ? "Modbus TCP master: one endpoint, several units behind it"
                      : "Modbus RTU master on a serial line (RS-485/RS-232)";
  t.parse = [transport](const ConfigNode& node, const std::string& path,
                        Diagnostics& diagnostics) -> std::shared_ptr<const AdapterSettings> {
    return parse_modbus_settings(transport, node, path, diagnostics);
  };
  t.create = [](AdapterContext context,
                std::shared_ptr<const AdapterSettings> settings) -> std::unique_ptr<Adapter> {
    return std::make_unique<ModbusAdapter>(
        std::move(context), std::dynamic_pointer_cast<const ModbusSettings>(settings));
  };
  t.reference = [transport] { return modbus_schema_reference(transport); };
  return t;
}

}  // namespace

AdapterType modbus_tcp_type() {
  return make_type(Transport::tcp);
}
AdapterType modbus_rtu_type() {
  return make_type(Transport::rtu);
}

}  // namespace fieldlink::modbus
