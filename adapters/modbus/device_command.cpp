#include "adapters/modbus/device_command.hpp"

#include <ctime>

#include <nlohmann/json.hpp>

#include "adapters/modbus/register_codec.hpp"

namespace fieldlink::modbus {
namespace {

using Json = nlohmann::ordered_json;  // keeps the operator's order: writes happen in that order

Outcome bad(std::string message) {
  return {400, Json{{"status", 400}, {"message", std::move(message)}}.dump()};
}

std::optional<Value> value_of(const Json& j) {
  if (j.is_boolean()) return Value(j.get<bool>());
  if (j.is_number_unsigned()) return Value(j.get<std::uint64_t>());
  if (j.is_number_integer()) return Value(j.get<std::int64_t>());
  if (j.is_number_float()) return Value(j.get<double>());
  if (j.is_string()) return Value(j.get<std::string>());
  return std::nullopt;
}

Json json_of(const Value& v) {
  return std::visit([](const auto& x) { return Json(x); }, v);
}

// Validates one point and value; "" when it can be written, else why not.
std::string add(const DeviceMap& device, const std::string& name, const Json& value,
                DeviceCommand& cmd) {
  const auto* p = device.find(name);
  if (p == nullptr) return "unknown point '" + name + "'";
  if (!p->writable) return "point '" + name + "' is not writable";
  const auto v = value_of(value);
  if (!v) return "point '" + name + "': expected a number, bool or string, got " + value.dump();
  auto e = encode_point(*p, *v);
  if (!e.error.empty()) return e.error;
  cmd.writes.push_back({static_cast<size_t>(p - device.points.data()), std::move(e.words)});
  cmd.names.push_back(name);
  cmd.values.push_back(*v);
  return {};
}

Json failure_json(const LinkStatus& s) {
  Json j{{"status", status_of(s)}, {"message", s.detail}};
  if (s.kind == LinkStatus::Kind::exception) j["exception"] = s.code;
  return j;
}

}  // namespace

int status_of(const LinkStatus& s) {
  switch (s.kind) {
    case LinkStatus::Kind::ok:
      return 200;
    case LinkStatus::Kind::exception:
    case LinkStatus::Kind::bad_frame:
      return 502;
    case LinkStatus::Kind::timeout:
    case LinkStatus::Kind::disconnected:
      return 504;
  }
  return 500;
}

std::string utc_text(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  const std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms.count() % 1000));
  return buf;
}

std::optional<DeviceCommand> DeviceCommand::write(const DeviceMap& device,
                                                  const std::string& payload,
                                                  Outcome& bad_request) {
  const auto j = Json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    bad_request = bad(R"(expected {"point": "<name>", "value": <value>} or {"points": {...}})");
    return std::nullopt;
  }
  DeviceCommand cmd;
  std::string why;
  if (j.contains("point") && j.contains("value") && j.size() == 2 && j["point"].is_string()) {
    cmd.single = true;
    why = add(device, j["point"].get<std::string>(), j["value"], cmd);
  } else if (j.contains("points") && j.size() == 1 && j["points"].is_object() &&
             !j["points"].empty()) {
    for (const auto& [name, value] : j["points"].items()) {
      if (why = add(device, name, value, cmd); !why.empty()) break;
    }
  } else {
    why =
        R"(expected {"point": "<name>", "value": <value>} or {"points": {"<name>": <value>, ...}})";
  }
  if (!why.empty()) {
    bad_request = bad(why + "; nothing was written");
    return std::nullopt;
  }
  return cmd;
}

std::optional<DeviceCommand> DeviceCommand::desired(const DeviceMap& device,
                                                    const std::string& payload,
                                                    Outcome& bad_request) {
  const auto j = Json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    bad_request = bad("expected a desired-properties patch (a JSON object)");
    return std::nullopt;
  }
  DeviceCommand cmd;
  cmd.kind = Kind::desired;
  for (const auto& [name, value] : j.items()) {
    if (name == "$version") {
      if (value.is_number_integer()) cmd.desired_version = value.get<std::int64_t>();
      continue;
    }
    if (name.starts_with("$")) continue;  // $metadata and other service keys
    // Each property is acknowledged on its own, as the twin's writable-property convention
    // (value, ac, av, ad) expects; a bad one does not stop the others.
    if (auto why = add(device, name, value, cmd); !why.empty()) cmd.refused.emplace_back(name, why);
  }
  return cmd;
}

Outcome DeviceCommand::outcome(const std::vector<LinkStatus>& results) const {
  int status = 200;
  for (const auto& r : results) {
    if (!r.ok()) {
      status = status_of(r);
      break;
    }
  }
  if (kind == Kind::desired) {
    // A reported-properties patch: {"setpoint": {"value": 21.5, "ac": 200, "av": 7, "ad": "…"}}
    Json reported = Json::object();
    for (size_t i = 0; i < names.size(); ++i) {
      const auto& r = results[i];
      reported[names[i]] = {{"value", json_of(values[i])},
                            {"ac", status_of(r)},
                            {"av", desired_version},
                            {"ad", r.ok() ? "written" : r.detail}};
    }
    for (const auto& [name, why] : refused) {
      reported[name] = {{"ac", 400}, {"av", desired_version}, {"ad", why}};
      if (status == 200) status = 400;
    }
    return {status, reported.dump()};
  }
  if (single) {
    Json j = results[0].ok() ? Json{{"status", 200}} : failure_json(results[0]);
    j["point"] = names[0];
    j["value"] = json_of(values[0]);
    return {status, j.dump()};
  }
  Json all = Json::object();
  for (size_t i = 0; i < names.size(); ++i) {
    all[names[i]] = results[i].ok() ? Json{{"status", 200}, {"value", json_of(values[i])}}
                                    : failure_json(results[i]);
  }
  return {status, Json{{"status", status}, {"points", std::move(all)}}.dump()};
}

Outcome read_outcome(const JobResult& result) {
  if (!result.read.ok()) return {status_of(result.read), failure_json(result.read).dump()};
  Json values = Json::object();
  for (const auto& [name, v] : result.values)
    values[name] = json_of(v);
  return {200,
          Json{{"sampled_at", utc_text(result.sampled_at)}, {"values", std::move(values)}}.dump()};
}

}  // namespace fieldlink::modbus
