#include "adapters/ble/ble_settings.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "config/adapter_settings.hpp"
#include "config/field.hpp"
#include "config/map_reader.hpp"

namespace fieldlink::ble {

// Key types with their own syntax: UUIDs (short or long), MACs ("*" where a wildcard is allowed)
// and 16-bit Bluetooth SIG company identifiers, usually written in hex.
struct Uuid {
  std::string text;  // "" when not set
};
struct Mac {
  std::string text;  // "" when not set
};
struct CompanyId {
  std::int64_t value = -1;  // -1 when not set
};

std::optional<std::string> normalize_uuid(std::string_view t) {
  if (t.starts_with("0x") || t.starts_with("0X")) t.remove_prefix(2);
  std::string lower;
  for (char c : t)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto is_hex = [](std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    });
  };
  if ((lower.size() == 4 || lower.size() == 8) && is_hex(lower)) {
    // The Bluetooth base UUID: short forms are aliases of 0000xxxx-0000-1000-8000-00805f9b34fb.
    return std::string(8 - lower.size(), '0') + lower + "-0000-1000-8000-00805f9b34fb";
  }
  if (lower.size() != 36) return std::nullopt;
  for (std::size_t i = 0; i < 36; ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? lower[i] != '-' : !is_hex(std::string_view(lower).substr(i, 1))) {
      return std::nullopt;
    }
  }
  return lower;
}

std::optional<std::string> normalize_mac(std::string_view t) {
  if (t.size() != 17) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < 17; ++i) {
    const char c = static_cast<char>(std::toupper(static_cast<unsigned char>(t[i])));
    if (i % 3 == 2) {
      if (c != ':') return std::nullopt;
    } else if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) {
      return std::nullopt;
    }
    out += c;
  }
  return out;
}

bool BleSettings::needs_discovery() const {
  // Advertisers are only heard while scanning; rule-bound devices are only found that way.
  if (!advertisers.empty()) return true;
  return std::any_of(devices.begin(), devices.end(),
                     [](const DeviceSettings& d) { return d.discover.has_value(); });
}

}  // namespace fieldlink::ble

namespace fieldlink::config {

FIELDLINK_CONFIG_ENUM(ble::ValueType, {"uint8", ble::ValueType::uint8},
                      {"uint16", ble::ValueType::uint16}, {"uint32", ble::ValueType::uint32},
                      {"int8", ble::ValueType::int8}, {"int16", ble::ValueType::int16},
                      {"int32", ble::ValueType::int32}, {"float32", ble::ValueType::float32},
                      {"sfloat", ble::ValueType::sfloat}, {"float", ble::ValueType::float11},
                      {"hex", ble::ValueType::hex});
FIELDLINK_CONFIG_ENUM(ble::Endian, {"little", ble::Endian::little}, {"big", ble::Endian::big});

template <>
struct ValueTraits<ble::Uuid> {
  static std::string type_name() { return "UUID (0x2a6e or 128-bit)"; }
  static Parsed<ble::Uuid> parse(std::string_view t, const ParseContext&) {
    if (t.empty()) return Parsed<ble::Uuid>::ok({});
    auto u = ble::normalize_uuid(t);
    if (!u) {
      return Parsed<ble::Uuid>::fail(
          "expected a 16-bit UUID such as 2a6e or a 128-bit one such as "
          "0000ffe1-0000-1000-8000-00805f9b34fb, got '" +
          std::string(t) + "'");
    }
    return Parsed<ble::Uuid>::ok({*u});
  }
  static std::string format(const ble::Uuid& u) { return u.text.empty() ? "\"\"" : u.text; }
};

template <>
struct ValueTraits<ble::Mac> {
  static std::string type_name() { return "MAC address (AA:BB:CC:DD:EE:FF)"; }
  static Parsed<ble::Mac> parse(std::string_view t, const ParseContext&) {
    if (t.empty() || t == "*") return Parsed<ble::Mac>::ok({std::string(t)});
    auto m = ble::normalize_mac(t);
    if (!m) {
      return Parsed<ble::Mac>::fail("expected a MAC address such as AA:BB:CC:DD:EE:01, got '" +
                                    std::string(t) + "'");
    }
    return Parsed<ble::Mac>::ok({*m});
  }
  static std::string format(const ble::Mac& m) { return m.text.empty() ? "\"\"" : m.text; }
};

template <>
struct ValueTraits<ble::CompanyId> {
  static std::string type_name() { return "company id (0x0499 or 1177)"; }
  static Parsed<ble::CompanyId> parse(std::string_view t, const ParseContext&) {
    if (t.empty()) return Parsed<ble::CompanyId>::ok({});
    int base = 10;
    auto digits = t;
    if (t.starts_with("0x") || t.starts_with("0X")) {
      base = 16;
      digits.remove_prefix(2);
    }
    std::int64_t v = -1;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
    if (ec != std::errc{} || ptr != digits.data() + digits.size() || v < 0 || v > 0xFFFF) {
      return Parsed<ble::CompanyId>::fail(
          "expected a 16-bit company identifier such as 0x0499, got '" + std::string(t) + "'");
    }
    return Parsed<ble::CompanyId>::ok({v});
  }
  static std::string format(const ble::CompanyId& c) {
    return c.value < 0 ? "\"\"" : std::to_string(c.value);
  }
};

}  // namespace fieldlink::config

namespace fieldlink::ble {
namespace {

using namespace std::chrono_literals;
using config::Field;
using config::key;
using config::Range;
using config::valid_value_name;
using config::where_of;
using Ms = std::chrono::milliseconds;
using Kind = ConfigNode::Kind;
using I64 = std::int64_t;

struct AdapterKeys {
  std::string controller;
  I64 max_connections = 5;
  Ms connect_timeout{20000};
  Ms io_timeout{10000};
  Ms backoff_initial{1000};
  Ms backoff_max{60000};
  I64 max_discovered = 64;
};

struct DeviceKeys {
  Mac mac;
};

struct DiscoverKeys {
  std::string name_prefix;
  Uuid service;
};

// The decoding keys, shared by characteristics and advertisement fields.
struct CodecKeys {
  std::string name;
  ValueType type = ValueType::uint8;
  Endian endian = Endian::little;
  I64 offset = 0;
  I64 length = 0;
  double scale = 1.0;
  double value_offset = 0.0;
};

struct CharacteristicKeys {
  CodecKeys codec;
  Uuid uuid;
  Uuid service;
  Ms read{0};
  bool notify = false;
  bool writable = false;
};

struct AdvertiserKeys {
  Mac mac;
  CompanyId company_id;
  Uuid service_data;
  std::string name_prefix;
  Ms dedupe{10000};
};

const std::vector<Field<AdapterKeys>>& adapter_fields() {
  using A = AdapterKeys;
  static const std::vector<Field<AdapterKeys>> f{
      key("controller", &A::controller, "hci0", "The BlueZ controller (adapter) to use."),
      key("max_connections", &A::max_connections, "5",
          "Devices connected at once on this controller; the others wait their turn.",
          Range<I64>{1, 32}),
      key("connect_timeout", &A::connect_timeout, "20s",
          "How long a connection plus service resolution may take.", Range<Ms>{1s, 5min}),
      key("io_timeout", &A::io_timeout, "10s", "How long one read, write or subscription may take.",
          Range<Ms>{100ms, 2min}),
      key("backoff_initial", &A::backoff_initial, "1s",
          "First wait before reconnecting a lost device; doubles per failure, with full jitter.",
          Range<Ms>{10ms, 1h}),
      key("backoff_max", &A::backoff_max, "60s", "Longest wait before reconnecting.",
          Range<Ms>{10ms, 24h}),
      key("max_discovered", &A::max_discovered, "64",
          "Devices bound through discovery rules or \"*\" advertisers that are tracked; further "
          "ones are counted and ignored.",
          Range<I64>{1, 4096}),
  };
  return f;
}

const std::vector<Field<DeviceKeys>>& device_fields() {
  static const std::vector<Field<DeviceKeys>> f{
      key("mac", &DeviceKeys::mac, "",
          "The device's address; source ble://<adapter>/<MAC>. Required unless `discover` is "
          "set."),
  };
  return f;
}

const std::vector<Field<DiscoverKeys>>& discover_fields() {
  using D = DiscoverKeys;
  static const std::vector<Field<DiscoverKeys>> f{
      key("name_prefix", &D::name_prefix, "", "Bind devices whose advertised name starts so."),
      key("service", &D::service, "", "Bind devices that advertise this service UUID."),
  };
  return f;
}

template <class Root>
void add_codec_fields(std::vector<Field<Root>>& f, CodecKeys Root::*c) {
  f.push_back(
      key("name", c, &CodecKeys::name, std::nullopt, "The value's name in readings and commands."));
  f.push_back(key("type", c, &CodecKeys::type, "uint8",
                  "How the bytes are decoded (sfloat/float: IEEE-11073; hex: raw bytes)."));
  f.push_back(key("endian", c, &CodecKeys::endian, "little", "Byte order."));
  f.push_back(
      key("offset", c, &CodecKeys::offset, "0", "First byte of the value.", Range<I64>{0, 511}));
  f.push_back(key("length", c, &CodecKeys::length, "0",
                  "hex: bytes taken (0: to the end); other types have their own width.",
                  Range<I64>{0, 512}));
  f.push_back(key("scale", c, &CodecKeys::scale, "1",
                  "Value = raw × scale + value_offset (a float64 "
                  "unless 1 and 0)."));
  f.push_back(key("value_offset", c, &CodecKeys::value_offset, "0", "Added after scaling."));
}

const std::vector<Field<CharacteristicKeys>>& characteristic_fields() {
  using C = CharacteristicKeys;
  static const std::vector<Field<CharacteristicKeys>> f = [] {
    std::vector<Field<CharacteristicKeys>> v;
    add_codec_fields(v, &C::codec);
    v.push_back(key("uuid", &C::uuid, std::nullopt, "The characteristic's UUID."));
    v.push_back(key("service", &C::service, "",
                    "The service UUID that holds it, where several services share a UUID."));
    v.push_back(key("read", &C::read, "0s", "Poll interval (ReadValue); 0s: not polled.",
                    Range<Ms>{0ms, 24h}));
    v.push_back(key("notify", &C::notify, "false",
                    "Subscribe (StartNotify); every notification is a reading."));
    v.push_back(key("writable", &C::writable, "false",
                    "Accept the `write` method and desired properties for it."));
    return v;
  }();
  return f;
}

const std::vector<Field<AdvertiserKeys>>& advertiser_fields() {
  using A = AdvertiserKeys;
  static const std::vector<Field<AdvertiserKeys>> f{
      key("mac", &A::mac, std::nullopt,
          "The advertiser's address, or \"*\" for every device whose data matches."),
      key("company_id", &A::company_id, "",
          "Decode ManufacturerData of this company identifier (e.g. 0x0499)."),
      key("service_data", &A::service_data, "", "Decode ServiceData of this UUID instead."),
      key("name_prefix", &A::name_prefix, "", "With mac \"*\": only names that start so."),
      key("dedupe", &A::dedupe, "10s",
          "At most one reading per device in this interval (a beacon repeats itself often).",
          Range<Ms>{0ms, 24h}),
  };
  return f;
}

const std::vector<Field<CodecKeys>>& advert_field_fields() {
  static const std::vector<Field<CodecKeys>> f = [] {
    // The same keys as a characteristic's decoding, rooted at the field itself.
    std::vector<Field<CodecKeys>> v;
    v.push_back(key("name", &CodecKeys::name, std::nullopt, "The value's name in readings."));
    v.push_back(key("type", &CodecKeys::type, "uint8", "How the bytes are decoded."));
    v.push_back(key("endian", &CodecKeys::endian, "little", "Byte order."));
    v.push_back(key("offset", &CodecKeys::offset, "0", "First byte in the advertised data.",
                    Range<I64>{0, 511}));
    v.push_back(key("length", &CodecKeys::length, "0", "hex: bytes taken (0: to the end).",
                    Range<I64>{0, 512}));
    v.push_back(key("scale", &CodecKeys::scale, "1", "Value = raw × scale + value_offset."));
    v.push_back(key("value_offset", &CodecKeys::value_offset, "0", "Added after scaling."));
    return v;
  }();
  return f;
}

class Parser {
 public:
  explicit Parser(Diagnostics& d) : diag_(d) {}

  void adapter(const ConfigNode& node, const std::string& path, BleSettings& s) {
    AdapterKeys a;
    config::apply_defaults(adapter_fields(), a, diag_);
    config::read_map(node, "", path, adapter_fields(), a, diag_,
                     {"name", "type", "devices", "advertisers"});
    s.controller = a.controller;
    s.max_connections = a.max_connections;
    s.connect_timeout = a.connect_timeout;
    s.io_timeout = a.io_timeout;
    s.backoff_initial = a.backoff_initial;
    s.backoff_max = std::max(a.backoff_max, a.backoff_initial);
    s.max_discovered = a.max_discovered;
    if (s.controller.empty() || s.controller.find('/') != std::string::npos) {
      diag_.add(where_of(node, "controller"), path + ".controller",
                "expected a controller name such as hci0, got '" + s.controller + "'");
    }
    const auto* devices = list(node, "devices", path);
    const auto* advertisers = list(node, "advertisers", path);
    if (devices == nullptr && advertisers == nullptr && !node.find("devices") &&
        !node.find("advertisers")) {
      diag_.add(node.where, path, "has neither devices nor advertisers, so it would read nothing");
    }
    if (devices) {
      for (std::size_t i = 0; i < devices->items.size(); ++i)
        device(devices->items[i], path + ".devices[" + std::to_string(i) + "]", s);
    }
    if (advertisers) {
      for (std::size_t i = 0; i < advertisers->items.size(); ++i)
        advertiser(advertisers->items[i], path + ".advertisers[" + std::to_string(i) + "]", s);
    }
  }

 private:
  const ConfigNode* list(const ConfigNode& node, std::string_view name, const std::string& path) {
    const auto* n = node.find(name);
    if (n == nullptr || n->kind == Kind::null) return nullptr;
    if (n->kind != Kind::sequence) {
      diag_.add(n->where, path + "." + std::string(name),
                "expected a list, " + config::got_text(*n));
      return nullptr;
    }
    return n;
  }

  bool codec(const CodecKeys& k, const ConfigNode& item, const std::string& path, FieldCodec& c) {
    if (!valid_value_name(k.name)) {
      diag_.add(where_of(item, "name"), path + ".name",
                "expected a name of letters, digits, '_' or '-', got '" + k.name + "'");
      return false;
    }
    if (k.scale == 0.0) {
      diag_.add(where_of(item, "scale"), path + ".scale", "must not be 0");
      return false;
    }
    if (k.type != ValueType::hex && item.find("length") &&
        k.length != static_cast<I64>(type_width(k.type))) {
      diag_.add(where_of(item, "length"), path + ".length",
                "only hex takes a length; " + config::ValueTraits<ValueType>::format(k.type) +
                    " is " + std::to_string(type_width(k.type)) + " byte(s)");
      return false;
    }
    if (k.type == ValueType::hex && (item.find("scale") || item.find("value_offset"))) {
      diag_.add(where_of(item, item.find("scale") ? "scale" : "value_offset"), path,
                "hex values are not scaled");
      return false;
    }
    c.type = k.type;
    c.endian = k.endian;
    c.offset = static_cast<std::size_t>(k.offset);
    c.length = static_cast<std::size_t>(k.length);
    c.scale = k.scale;
    c.value_offset = k.value_offset;
    return true;
  }

  void device(const ConfigNode& item, const std::string& path, BleSettings& s) {
    if (item.kind != Kind::map) {
      diag_.add(item.where, path,
                "expected a mapping with mac and characteristics, " + config::got_text(item));
      return;
    }
    DeviceKeys k;
    config::apply_defaults(device_fields(), k, diag_);
    const auto before = diag_.size();
    config::read_map(item, "", path, device_fields(), k, diag_, {"discover", "characteristics"});
    if (diag_.size() != before) return;
    DeviceSettings d;
    d.mac = k.mac.text;
    if (d.mac == "*") {
      diag_.add(where_of(item, "mac"), path + ".mac",
                "a connected device needs its MAC; use `discover` to bind devices by name or "
                "service");
      return;
    }
    if (const auto* disc = item.find("discover")) {
      if (disc->kind != Kind::map) {
        diag_.add(disc->where, path + ".discover",
                  "expected a mapping with name_prefix and/or service, " + config::got_text(*disc));
        return;
      }
      DiscoverKeys dk;
      config::apply_defaults(discover_fields(), dk, diag_);
      config::read_map(*disc, "", path + ".discover", discover_fields(), dk, diag_);
      if (dk.name_prefix.empty() && dk.service.text.empty()) {
        diag_.add(disc->where, path + ".discover", "needs name_prefix or service (or both)");
      }
      d.discover = DiscoveryRule{dk.name_prefix, dk.service.text};
    }
    if (d.mac.empty() == !d.discover) {
      diag_.add(item.where, path,
                d.mac.empty() ? "needs mac (or a discover rule)" : "has both mac and discover");
      return;
    }
    if (!d.mac.empty()) {
      if (auto [it, fresh] = macs_.insert(d.mac); !fresh) {
        diag_.add(where_of(item, "mac"), path + ".mac", "device " + d.mac + " is listed twice");
        return;
      }
    }
    const auto* chars = item.find("characteristics");
    if (chars == nullptr || chars->kind != Kind::sequence || chars->items.empty()) {
      diag_.add(chars ? chars->where : item.where, path + (chars ? ".characteristics" : ""),
                chars ? "expected a list of characteristics, " + config::got_text(*chars)
                      : "missing required key 'characteristics' (a list)");
      return;
    }
    std::set<std::string> names;
    for (std::size_t i = 0; i < chars->items.size(); ++i) {
      const auto& c = chars->items[i];
      const auto cpath = path + ".characteristics[" + std::to_string(i) + "]";
      if (c.kind != Kind::map) {
        diag_.add(c.where, cpath,
                  "expected a mapping with name, uuid and type, " + config::got_text(c));
        continue;
      }
      CharacteristicKeys ck;
      config::apply_defaults(characteristic_fields(), ck, diag_);
      const auto b = diag_.size();
      config::read_map(c, "", cpath, characteristic_fields(), ck, diag_);
      if (diag_.size() != b) continue;
      Characteristic ch;
      if (!codec(ck.codec, c, cpath, ch.codec)) continue;
      ch.name = ck.codec.name;
      ch.uuid = ck.uuid.text;
      ch.service_uuid = ck.service.text;
      ch.read = ck.read;
      ch.notify = ck.notify;
      ch.writable = ck.writable;
      if (!names.insert(ch.name).second) {
        diag_.add(where_of(c, "name"), cpath + ".name",
                  "characteristic '" + ch.name + "' is named twice");
        continue;
      }
      if (ch.read.count() == 0 && !ch.notify && !ch.writable) {
        diag_.add(c.where, cpath,
                  "is neither read (read: <interval>), notify nor writable, so it does nothing");
        continue;
      }
      if (ch.read.count() > 0 && ch.read < std::chrono::milliseconds(100)) {
        diag_.add(where_of(c, "read"), cpath + ".read", "must be at least 100ms (or 0s for off)");
        continue;
      }
      d.characteristics.push_back(std::move(ch));
    }
    s.devices.push_back(std::move(d));
  }

  void advertiser(const ConfigNode& item, const std::string& path, BleSettings& s) {
    if (item.kind != Kind::map) {
      diag_.add(item.where, path,
                "expected a mapping with mac, company_id or service_data, and fields, " +
                    config::got_text(item));
      return;
    }
    AdvertiserKeys k;
    config::apply_defaults(advertiser_fields(), k, diag_);
    const auto before = diag_.size();
    config::read_map(item, "", path, advertiser_fields(), k, diag_, {"fields"});
    if (diag_.size() != before) return;
    AdvertiserSettings a;
    a.mac = k.mac.text;
    a.name_prefix = k.name_prefix;
    a.dedupe = k.dedupe;
    a.service_data_uuid = k.service_data.text;
    if (k.company_id.value >= 0) a.company_id = static_cast<std::uint16_t>(k.company_id.value);
    if (a.company_id.has_value() == !a.service_data_uuid.empty()) {
      diag_.add(item.where, path,
                a.company_id ? "has both company_id and service_data; choose one"
                             : "needs company_id (manufacturer data) or service_data (a UUID)");
      return;
    }
    if (!a.name_prefix.empty() && a.mac != "*") {
      diag_.add(where_of(item, "name_prefix"), path + ".name_prefix", "applies only to mac \"*\"");
      return;
    }
    const auto* list = item.find("fields");
    if (list == nullptr || list->kind != Kind::sequence || list->items.empty()) {
      diag_.add(list ? list->where : item.where, path + (list ? ".fields" : ""),
                list ? "expected a list of fields, " + config::got_text(*list)
                     : "missing required key 'fields' (a list)");
      return;
    }
    std::set<std::string> names{"rssi"};
    for (std::size_t i = 0; i < list->items.size(); ++i) {
      const auto& f = list->items[i];
      const auto fpath = path + ".fields[" + std::to_string(i) + "]";
      if (f.kind != Kind::map) {
        diag_.add(f.where, fpath,
                  "expected a mapping with name, offset and type, " + config::got_text(f));
        continue;
      }
      CodecKeys ck;
      config::apply_defaults(advert_field_fields(), ck, diag_);
      const auto b = diag_.size();
      config::read_map(f, "", fpath, advert_field_fields(), ck, diag_);
      if (diag_.size() != b) continue;
      AdvertField af;
      af.name = ck.name;
      if (!codec(ck, f, fpath, af.codec)) continue;
      if (!names.insert(af.name).second) {
        diag_.add(where_of(f, "name"), fpath + ".name",
                  af.name == "rssi" ? std::string("'rssi' is the reading's own signal strength")
                                    : "field '" + af.name + "' is named twice");
        continue;
      }
      a.fields.push_back(std::move(af));
    }
    s.advertisers.push_back(std::move(a));
  }

  Diagnostics& diag_;
  std::set<std::string> macs_;
};

}  // namespace

std::shared_ptr<const BleSettings> parse_ble_settings(const ConfigNode& node,
                                                      const std::string& path,
                                                      Diagnostics& diagnostics) {
  return config::parse_adapter<BleSettings>(
      node, diagnostics, [&](BleSettings& s) { Parser(diagnostics).adapter(node, path, s); });
}

std::string ble_schema_reference() {
  auto out = config::reference_header();
  out += config::reference_rows("", adapter_fields());
  out += config::reference_rows("devices[].", device_fields());
  out += config::reference_rows("devices[].discover.", discover_fields());
  out += config::reference_rows("devices[].characteristics[].", characteristic_fields());
  out += config::reference_rows("advertisers[].", advertiser_fields());
  out += config::reference_rows("advertisers[].fields[].", advert_field_fields());
  return out;
}

}  // namespace fieldlink::ble
