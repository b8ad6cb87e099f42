#include "adapters/modbus/modbus_settings.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>

#include "config/adapter_settings.hpp"
#include "config/field.hpp"
#include "config/map_reader.hpp"

namespace fieldlink::modbus {

// Keys whose default depends on other keys: "" in the table means "not set".
struct TableKey {
  std::optional<Table> table;
};
struct ReportKey {
  std::optional<Report> report;
};

}  // namespace fieldlink::modbus

namespace fieldlink::config {

FIELDLINK_CONFIG_ENUM(modbus::WordOrder, {"ABCD", modbus::WordOrder::abcd},
                      {"CDAB", modbus::WordOrder::cdab}, {"BADC", modbus::WordOrder::badc},
                      {"DCBA", modbus::WordOrder::dcba});
FIELDLINK_CONFIG_ENUM(modbus::Parity, {"none", modbus::Parity::none},
                      {"even", modbus::Parity::even}, {"odd", modbus::Parity::odd});
FIELDLINK_CONFIG_ENUM(modbus::Addressing, {"pdu", modbus::Addressing::pdu},
                      {"modicon", modbus::Addressing::modicon});

template <>
struct ValueTraits<modbus::TableKey> {
  static constexpr std::array kNames =
      std::to_array<EnumName<modbus::Table>>({{"coil", modbus::Table::coil},
                                              {"discrete", modbus::Table::discrete},
                                              {"input", modbus::Table::input},
                                              {"holding", modbus::Table::holding}});
  using Base = EnumTraits<modbus::Table, kNames.size()>;
  static std::string type_name() { return Base::type_name(kNames); }
  static Parsed<modbus::TableKey> parse(std::string_view t, const ParseContext&) {
    if (t.empty()) return Parsed<modbus::TableKey>::ok({});
    auto p = Base::parse(kNames, t);
    if (!p.value) return Parsed<modbus::TableKey>::fail(p.error);
    return Parsed<modbus::TableKey>::ok({*p.value});
  }
};

template <>
struct ValueTraits<modbus::ReportKey> {
  static std::string type_name() { return "one of: change, always"; }
  static Parsed<modbus::ReportKey> parse(std::string_view t, const ParseContext&) {
    if (t.empty()) return Parsed<modbus::ReportKey>::ok({});
    if (t == "change") return Parsed<modbus::ReportKey>::ok({modbus::Report::change});
    if (t == "always") return Parsed<modbus::ReportKey>::ok({modbus::Report::always});
    return Parsed<modbus::ReportKey>::fail("expected one of: change, always, got '" +
                                           std::string(t) + "'");
  }
};

template <>
struct ValueTraits<modbus::PointType> {
  static std::string type_name() {
    return "one of: bool, int16, uint16, int32, uint32, int64, uint64, float32, float64, "
           "string(N), bits";
  }
  static Parsed<modbus::PointType> parse(std::string_view t, const ParseContext&) {
    using K = modbus::PointType::Kind;
    static constexpr std::pair<std::string_view, K> kKinds[] = {
        {"bool", K::boolean},  {"int16", K::int16},     {"uint16", K::uint16},
        {"int32", K::int32},   {"uint32", K::uint32},   {"int64", K::int64},
        {"uint64", K::uint64}, {"float32", K::float32}, {"float64", K::float64},
        {"bits", K::bits}};
    for (const auto& [name, kind] : kKinds) {
      if (t == name) return Parsed<modbus::PointType>::ok({kind, 0});
    }
    if (t.starts_with("string(") && t.ends_with(")")) {
      const auto digits = t.substr(7, t.size() - 8);
      int n = 0;
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (ec == std::errc{} && ptr == digits.data() + digits.size() && n >= 1 && n <= 250) {
        return Parsed<modbus::PointType>::ok({K::text, n});
      }
      return Parsed<modbus::PointType>::fail(
          "string(N) needs N between 1 and 250 characters (125 registers), got '" + std::string(t) +
          "'");
    }
    return Parsed<modbus::PointType>::fail("expected " + type_name() + ", got '" + std::string(t) +
                                           "'");
  }
};

}  // namespace fieldlink::config

namespace fieldlink::modbus {
namespace {

using namespace std::chrono_literals;
using config::Field;
using config::key;
using config::Range;
using config::valid_value_name;
using config::where_of;
using Ms = std::chrono::milliseconds;
using Kind = ConfigNode::Kind;

struct DeviceKeys {
  std::int64_t unit = 1;
  Ms poll{1000};
  std::int64_t max_registers = 125;
  std::int64_t max_bits = 2000;
  std::int64_t max_gap = 0;
  Addressing addressing = Addressing::pdu;
  bool read_back = false;
};

struct PointKeys {
  std::string name;
  TableKey table;
  std::int64_t address = 0;
  PointType type;
  WordOrder order = WordOrder::abcd;
  double scale = 1.0;
  double offset = 0.0;
  std::string unit;
  double deadband = 0.0;
  ReportKey report;
  Ms heartbeat{0};
  bool writable = false;
  std::optional<double> min;
  std::optional<double> max;
  Ms poll{0};
};

std::vector<Field<ModbusSettings>> adapter_fields(Transport transport) {
  using S = ModbusSettings;
  std::vector<Field<ModbusSettings>> f;
  if (transport == Transport::tcp) {
    f.push_back(key("host", &S::host, std::nullopt,
                    "Host name or address of the Modbus TCP server (or TCP-to-RTU gateway)."));
    f.push_back(key("port", &S::tcp_port, "502", "TCP port.", Range<std::int64_t>{1, 65535}));
  } else {
    f.push_back(key("port", &S::serial_port, std::nullopt,
                    "Serial device; prefer /dev/serial/by-id/… (stable across re-plugs)."));
    f.push_back(key("baud", &S::baud, "19200", "Line speed in bits per second.",
                    Range<std::int64_t>{300, 4000000}));
    f.push_back(key("parity", &S::parity, "even", "Parity bit (Modbus's default is even)."));
    f.push_back(key("data_bits", &S::data_bits, "8", "Data bits per character.",
                    Range<std::int64_t>{7, 8}));
    f.push_back(key("stop_bits", &S::stop_bits, "1", "Stop bits per character.",
                    Range<std::int64_t>{1, 2}));
    f.push_back(key("rs485", &S::rs485, "false",
                    "Switch the port to RS-485 mode (a warning where the port cannot)."));
    f.push_back(key("turnaround_delay", &S::turnaround_delay, "0ms",
                    "Silence kept on the line after each answer, for slow devices.",
                    Range<Ms>{0ms, 1s}));
  }
  f.push_back(key("response_timeout", &S::response_timeout, "1s",
                  "How long a unit may take to start answering (and a TCP connect).",
                  Range<Ms>{10ms, 60s}));
  f.push_back(key("byte_timeout", &S::byte_timeout, "500ms", "Longest pause inside one answer.",
                  Range<Ms>{1ms, 10s}));
  f.push_back(key("backoff_max", &S::backoff_max, "60s",
                  "Longest wait between probes of a silent unit and between reconnects.",
                  Range<Ms>{100ms, 1h}));
  f.push_back(key("offline_after", &S::offline_after, "2",
                  "Consecutive unanswered polls after which a unit is offline and only probed.",
                  Range<std::int64_t>{1, 100}));
  return f;
}

std::vector<Field<DeviceKeys>> device_fields(Transport transport) {
  using D = DeviceKeys;
  // Unit 0 is the broadcast address on a serial line; behind TCP it is a valid server id.
  const auto units =
      transport == Transport::rtu ? Range<std::int64_t>{1, 247} : Range<std::int64_t>{0, 255};
  return {
      key("unit", &D::unit, std::nullopt,
          "Unit (slave) id; the source is modbus://<adapter>/<unit>.", units),
      key("poll", &D::poll, "1s", "Poll interval of the device's points.", Range<Ms>{10ms, 24h}),
      key("max_registers", &D::max_registers, "125", "Registers per read request.",
          Range<std::int64_t>{1, 125}),
      key("max_bits", &D::max_bits, "2000", "Coils or discrete inputs per read request.",
          Range<std::int64_t>{1, 2000}),
      key("max_gap", &D::max_gap, "0",
          "Unused registers (or bits) one read may span to join two points.",
          Range<std::int64_t>{0, 1999}),
      key("addressing", &D::addressing, "pdu",
          "pdu: 0-based addresses with a table; modicon: 40001-style addresses name the table."),
      key("read_back", &D::read_back, "false",
          "Read written registers back and report a mismatch as a failed write."),
  };
}

const std::vector<Field<PointKeys>>& point_fields() {
  using P = PointKeys;
  static const std::vector<Field<PointKeys>> fields{
      key("name", &P::name, std::nullopt, "The value's name in readings and commands."),
      key("table", &P::table, "",
          "coil, discrete, input or holding; required with pdu addressing."),
      key("address", &P::address, std::nullopt,
          "0-based PDU address, or a Modicon address (40001) with addressing: modicon."),
      key("type", &P::type, std::nullopt, "How the registers are decoded."),
      key("order", &P::order, "ABCD",
          "Byte order of multi-byte values: CDAB swaps words, BADC bytes, DCBA both."),
      key("scale", &P::scale, "1", "Value = raw × scale + offset."),
      key("offset", &P::offset, "0", "Value = raw × scale + offset."),
      key("unit", &P::unit, "", "Engineering unit, for people."),
      key("deadband", &P::deadband, "0", "Smallest change reported; implies report: change.",
          Range<double>{0.0, {}}),
      key("report", &P::report, "",
          "always: in every reading; change: only when it changed (default: change with a "
          "deadband, else always)."),
      key("heartbeat", &P::heartbeat, "0ms",
          "With report: change, report the value at least this often anyway.",
          Range<Ms>{0ms, 24h * 7}),
      key("writable", &P::writable, "false", "Accept writes (coil and holding tables only)."),
      key("min", &P::min, "", "Smallest value a write may set."),
      key("max", &P::max, "", "Largest value a write may set."),
      key("poll", &P::poll, "0ms", "Poll this point at its own interval instead of the device's.",
          Range<Ms>{0ms, 24h}),
  };
  return fields;
}

std::string line_of(const Location& l) {
  return l.file + ":" + std::to_string(l.line);
}

class Parser {
 public:
  Parser(Transport transport, Diagnostics& diagnostics)
      : transport_(transport), diag_(diagnostics) {}

  void adapter(const ConfigNode& node, const std::string& path, ModbusSettings& s) {
    const auto fields = adapter_fields(transport_);
    config::apply_defaults(fields, s, diag_);
    config::read_map(node, "", path, fields, s, diag_, {"name", "type", "devices"});
    if (transport_ == Transport::tcp && s.host.empty() && node.find("host")) {
      diag_.add(where_of(node, "host"), path + ".host", "expected a host name or address");
    }
    if (transport_ == Transport::rtu && node.find("port") && !s.serial_port.starts_with("/")) {
      diag_.add(where_of(node, "port"), path + ".port",
                "expected an absolute device path such as /dev/serial/by-id/…, got '" +
                    s.serial_port + "'");
    }
    const auto* devices = node.find("devices");
    if (devices == nullptr || devices->kind == Kind::null) {
      diag_.add(node.where, path, "missing required key 'devices' (a list of units to poll)");
      return;
    }
    if (devices->kind != Kind::sequence || devices->items.empty()) {
      diag_.add(devices->where, path + ".devices",
                "expected a list of devices, " + (devices->kind == Kind::sequence
                                                      ? std::string("got an empty list")
                                                      : config::got_text(*devices)));
      return;
    }
    std::map<std::int64_t, Location> units;
    for (size_t i = 0; i < devices->items.size(); ++i) {
      const auto& item = devices->items[i];
      const auto dpath = path + ".devices[" + std::to_string(i) + "]";
      DeviceMap dev;
      if (!device(item, dpath, dev)) continue;
      if (transport_ == Transport::tcp && dev.unit > 247 && dev.unit < 255) {
        // libmodbus (and most servers) take 0..247 and 255, the "no unit" id of plain TCP.
        diag_.add(where_of(item, "unit"), dpath + ".unit",
                  "must be between 0 and 247, or 255, got " + std::to_string(dev.unit));
        continue;
      }
      if (auto [it, fresh] = units.emplace(dev.unit, where_of(item, "unit")); !fresh) {
        diag_.add(where_of(item, "unit"), dpath + ".unit",
                  "unit " + std::to_string(dev.unit) + " is already configured at " +
                      line_of(it->second));
        continue;
      }
      s.devices.push_back(std::move(dev));
    }
  }

 private:
  bool device(const ConfigNode& item, const std::string& path, DeviceMap& dev) {
    if (item.kind != Kind::map) {
      diag_.add(item.where, path,
                "expected a mapping with unit and points, " + config::got_text(item));
      return false;
    }
    const auto before = diag_.size();
    const auto fields = device_fields(transport_);
    DeviceKeys k;
    config::apply_defaults(fields, k, diag_);
    config::read_map(item, "", path, fields, k, diag_, {"points"});
    dev.unit = static_cast<std::uint8_t>(k.unit);
    dev.poll = k.poll;
    dev.max_registers = static_cast<int>(k.max_registers);
    dev.max_bits = static_cast<int>(k.max_bits);
    dev.max_gap = static_cast<int>(k.max_gap);
    dev.read_back = k.read_back;
    const auto* points = item.find("points");
    if (points == nullptr || points->kind != Kind::sequence || points->items.empty()) {
      diag_.add(points ? points->where : item.where, path + (points ? ".points" : ""),
                points ? "expected a list of points, " + (points->kind == Kind::sequence
                                                              ? std::string("got an empty list")
                                                              : config::got_text(*points))
                       : "missing required key 'points' (the registers to read)");
      return false;
    }
    std::map<std::string, Location> names;
    for (size_t i = 0; i < points->items.size(); ++i) {
      const auto& pitem = points->items[i];
      const auto ppath = path + ".points[" + std::to_string(i) + "]";
      Point p;
      if (!point(pitem, ppath, k, p)) continue;
      if (auto [it, fresh] = names.emplace(p.name, where_of(pitem, "name")); !fresh) {
        diag_.add(where_of(pitem, "name"), ppath + ".name",
                  "point name '" + p.name + "' is already used at " + line_of(it->second));
        continue;
      }
      // Points must not share registers: an overlap is almost always a wrong address or a
      // string longer than the device's field, and would make writes clobber a neighbour.
      for (size_t j = 0; j < dev.points.size(); ++j) {
        const auto& q = dev.points[j];
        if (q.table != p.table || q.address + q.width() <= p.address ||
            p.address + p.width() <= q.address) {
          continue;
        }
        diag_.add(where_of(pitem, "address"), ppath + ".address",
                  describe_span(p) + " of '" + p.name + "' overlaps " + describe_span(q) + " of '" +
                      q.name + "' (" + line_of(point_lines_.at(q.name)) + ")");
        break;
      }
      point_lines_[p.name] = where_of(pitem, "name");
      dev.points.push_back(std::move(p));
    }
    point_lines_.clear();
    return diag_.size() == before;
  }

  static std::string describe_span(const Point& p) {
    const auto what = is_bit_table(p.table) ? "bit" : "register";
    const auto table = std::string(table_name(p.table));
    if (p.width() == 1) return table + " " + what + " " + std::to_string(p.address);
    return table + " " + what + "s " + std::to_string(p.address) + ".." +
           std::to_string(p.address + p.width() - 1);
  }

  bool point(const ConfigNode& item, const std::string& path, const DeviceKeys& dev, Point& p) {
    if (item.kind != Kind::map) {
      diag_.add(item.where, path,
                "expected a mapping with name, table, address and type, " + config::got_text(item));
      return false;
    }
    const auto before = diag_.size();
    PointKeys k;
    config::apply_defaults(point_fields(), k, diag_);
    config::read_map(item, "", path, point_fields(), k, diag_);
    if (diag_.size() != before) return false;
    const auto err = [&](std::string_view key_name, std::string message) {
      diag_.add(where_of(item, key_name),
                path + (key_name.empty() ? "" : ".") + std::string(key_name), std::move(message));
    };
    if (!valid_value_name(k.name)) {
      err("name", "expected a point name of letters, digits, '_' or '-', got '" + k.name + "'");
    }
    p.name = k.name;
    p.type = k.type;
    p.order = k.order;
    p.scale = k.scale;
    p.offset = k.offset;
    p.unit = k.unit;
    p.deadband = k.deadband;
    p.heartbeat = k.heartbeat;
    p.writable = k.writable;
    p.min = k.min;
    p.max = k.max;
    p.poll = k.poll;
    // Table and address.
    if (dev.addressing == Addressing::modicon) {
      const auto v = k.address;
      const auto prefix = v < 100000 ? v / 10000 : v / 100000;
      const auto index = v < 100000 ? v % 10000 : v % 100000;
      std::optional<Table> t;
      if (prefix == 0) t = Table::coil;
      if (prefix == 1) t = Table::discrete;
      if (prefix == 3) t = Table::input;
      if (prefix == 4) t = Table::holding;
      if (v < 1 || v > 465536 || !t || index < 1 || index > 65536) {
        err("address",
            "expected a Modicon address (00001 coil, 10001 discrete, 30001 input, "
            "40001 holding; 6 digits for addresses above 9999), got " +
                std::to_string(v));
        return false;
      }
      if (k.table.table && *k.table.table != *t) {
        err("table", "table " + std::string(table_name(*k.table.table)) +
                         " contradicts Modicon address " + std::to_string(v) +
                         ", which is in the " + std::string(table_name(*t)) + " table");
        return false;
      }
      p.table = *t;
      p.address = static_cast<std::uint16_t>(index - 1);
    } else {
      if (!k.table.table) {
        diag_.add(item.where, path,
                  "missing required key 'table' (one of: coil, discrete, input, holding)");
        return false;
      }
      if (k.address < 0 || k.address > 65535) {
        err("address",
            "must be between 0 and 65535 (a 0-based PDU address; for 40001-style "
            "addresses set addressing: modicon on the device), got " +
                std::to_string(k.address));
        return false;
      }
      p.table = *k.table.table;
      p.address = static_cast<std::uint16_t>(k.address);
    }
    using K = PointType::Kind;
    const auto tname = std::string(table_name(p.table));
    const bool numeric =
        p.type.kind != K::boolean && p.type.kind != K::text && p.type.kind != K::bits;
    if (is_bit_table(p.table) && p.type.kind != K::boolean) {
      err("type", "type " + p.type.name() + " is too wide for the " + tname +
                      " table, which holds single bits; use bool");
    }
    if (!is_bit_table(p.table) && p.address + p.type.registers() > 65536) {
      err("type", p.type.name() + " at address " + std::to_string(p.address) + " needs " +
                      std::to_string(p.type.registers()) +
                      " registers and runs past the last address 65535");
    }
    const auto limit = is_bit_table(p.table) ? dev.max_bits : dev.max_registers;
    if (p.width() > limit) {
      err("type", p.type.name() + " needs " + std::to_string(p.width()) +
                      " registers, more than the device's max_registers " + std::to_string(limit));
    }
    if (p.type.kind == K::text && (p.order == WordOrder::cdab || p.order == WordOrder::dcba)) {
      err("order", "a string's order is ABCD (high byte first) or BADC (low byte first)");
    }
    if ((p.scale != 1.0 || p.offset != 0.0) && !numeric) {
      err(p.scale != 1.0 ? "scale" : "offset",
          "scale and offset apply to numbers, not to " + p.type.name());
    }
    if (p.scale == 0.0) err("scale", "must not be 0");
    if (p.writable && !is_writable_table(p.table)) {
      err("writable", "the " + tname +
                          " table is read-only in Modbus; writable points need the coil or "
                          "holding table");
    } else if (p.writable && p.type.kind == K::bits) {
      err("writable", "bits points are read-only (a write would overwrite the other 15 bits)");
    }
    if ((p.min || p.max) && !p.writable) {
      err(p.min ? "min" : "max", "min and max limit writes; set writable: true or remove them");
    }
    if ((p.min || p.max) && !numeric) {
      err(p.min ? "min" : "max", "min and max apply to numbers, not to " + p.type.name());
    }
    if (p.min && p.max && *p.min > *p.max) {
      err("max", "max " + config::ValueTraits<double>::format(*p.max) + " is below min " +
                     config::ValueTraits<double>::format(*p.min));
    }
    if (k.deadband > 0 && !numeric) {
      err("deadband", "a deadband applies to numbers, not to " + p.type.name());
    }
    if (k.deadband > 0 && k.report.report == Report::always) {
      err("deadband", "a deadband has no effect with report: always");
    }
    p.report = k.report.report.value_or(k.deadband > 0 ? Report::change : Report::always);
    if (p.heartbeat.count() > 0 && p.report != Report::change) {
      err("heartbeat", "a heartbeat applies to report: change");
    }
    if (p.poll.count() > 0 && p.poll < 10ms) {
      err("poll", "must be at least 10ms, got " + std::to_string(p.poll.count()) + "ms");
    }
    return diag_.size() == before;
  }

  Transport transport_;
  Diagnostics& diag_;
  std::map<std::string, Location> point_lines_;
};

}  // namespace

std::string ModbusSettings::endpoint() const {
  return transport == Transport::tcp ? host + ":" + std::to_string(tcp_port) : serial_port;
}

std::shared_ptr<const ModbusSettings> parse_modbus_settings(Transport transport,
                                                            const ConfigNode& node,
                                                            const std::string& path,
                                                            Diagnostics& diagnostics) {
  return config::parse_adapter<ModbusSettings>(node, diagnostics, [&](ModbusSettings& s) {
    s.transport = transport;
    Parser(transport, diagnostics).adapter(node, path, s);
  });
}

std::string modbus_schema_reference(Transport transport) {
  auto out = config::reference_header();
  out += config::reference_rows("", adapter_fields(transport));
  out += config::reference_rows("devices[].", device_fields(transport));
  out += config::reference_rows("devices[].points[].", point_fields());
  return out;
}

}  // namespace fieldlink::modbus
