#pragma once
// The building blocks of schema tables: a Field is one key (name, type, default, range,
// description) with the code that parses it into its place in a typed struct. The daemon's own
// sections (schema.cpp) and every adapter's section are declared with these, so all keys are
// parsed, range-checked, defaulted and documented the same way.
#include <array>
#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "config/value_types.hpp"

namespace fieldlink::config {

struct ParseContext {
  std::string base_dir;  // relative file paths are resolved against the config file's folder
};

template <class Root>
struct Field {
  std::string key;                          // "hub.token_ttl"; for list items, relative to the item
  std::string type;                         // "duration", "one of: normal, full", ...
  std::optional<std::string> default_text;  // nullopt: the operator must set it
  std::string range;                        // "5s .. 30d", or empty
  std::string description;
  // Parses `text`, checks the range and stores the value in `root`; returns why not, or "".
  std::function<std::string(std::string_view text, const ParseContext&, Root&)> assign;
};

template <class T>
struct Range {
  std::optional<T> min;
  std::optional<T> max;
};

// How each value type is read and written back: type_name(), parse(text, ctx), format(value).
// The tables pick the specialisation by the member's C++ type, so a key cannot be parsed as the
// wrong kind. Adapters add specialisations for their own types (e.g. a register word order).
template <class T>
struct ValueTraits;

template <>
struct ValueTraits<std::string> {
  static std::string type_name() { return "string"; }
  static Parsed<std::string> parse(std::string_view text, const ParseContext&) {
    return Parsed<std::string>::ok(std::string(text));
  }
  static std::string format(const std::string& v) { return v.empty() ? "\"\"" : v; }
};

template <>
struct ValueTraits<std::int64_t> {
  static std::string type_name() { return "integer"; }
  static Parsed<std::int64_t> parse(std::string_view text, const ParseContext&);
  static std::string format(std::int64_t v) { return std::to_string(v); }
};

template <>
struct ValueTraits<double> {
  static std::string type_name() { return "number"; }
  static Parsed<double> parse(std::string_view text, const ParseContext&);
  static std::string format(double v);
};

template <>
struct ValueTraits<bool> {
  static std::string type_name() { return "true or false"; }
  static Parsed<bool> parse(std::string_view text, const ParseContext&);
  static std::string format(bool v) { return v ? "true" : "false"; }
};

template <>
struct ValueTraits<Duration> {
  static std::string type_name() { return "duration"; }
  static Parsed<Duration> parse(std::string_view t, const ParseContext&) {
    return parse_duration(t);
  }
  static std::string format(Duration v) { return format_duration(v); }
};

template <>
struct ValueTraits<ByteSize> {
  static std::string type_name() { return "size"; }
  static Parsed<ByteSize> parse(std::string_view t, const ParseContext&) { return parse_size(t); }
  static std::string format(ByteSize v) { return format_size(v); }
};

template <>
struct ValueTraits<Rate> {
  static std::string type_name() { return "rate"; }
  static Parsed<Rate> parse(std::string_view t, const ParseContext&) { return parse_rate(t); }
  static std::string format(const Rate& v) { return format_rate(v); }
};

template <>
struct ValueTraits<ListenAddress> {
  static std::string type_name() { return "listen address"; }
  static Parsed<ListenAddress> parse(std::string_view t, const ParseContext&) {
    return parse_listen(t);
  }
  static std::string format(const ListenAddress& v) { return format_listen(v); }
};

template <>
struct ValueTraits<FilePath> {
  static std::string type_name() { return "path"; }
  static Parsed<FilePath> parse(std::string_view text, const ParseContext& ctx);
  static std::string format(const FilePath& v) { return v.path.empty() ? "\"\"" : v.path; }
};

// Key files are checked where they are named, so a wrong mode is reported with the line that
// names the file rather than as a connect failure hours later.
template <>
struct ValueTraits<SecretFile> {
  static std::string type_name() { return "key file (mode 0600 or stricter)"; }
  static Parsed<SecretFile> parse(std::string_view text, const ParseContext& ctx);
  static std::string format(const SecretFile& v) { return v.path.empty() ? "\"\"" : v.path; }
};

// An optional key whose absence means "not set" (not a default): empty text gives nullopt,
// anything else must parse as T.
template <class T>
struct ValueTraits<std::optional<T>> {
  static std::string type_name() { return ValueTraits<T>::type_name(); }
  static Parsed<std::optional<T>> parse(std::string_view text, const ParseContext& ctx) {
    if (text.empty()) return Parsed<std::optional<T>>::ok(std::nullopt);
    auto p = ValueTraits<T>::parse(text, ctx);
    if (!p.value) return Parsed<std::optional<T>>::fail(std::move(p.error));
    return Parsed<std::optional<T>>::ok(std::move(p.value));
  }
  static std::string format(const std::optional<T>& v) {
    return v ? ValueTraits<T>::format(*v) : std::string("\"\"");
  }
};

// Enumerations: declare the names once with FIELDLINK_CONFIG_ENUM(Type, {"name", Type::value}...).
template <class E>
struct EnumName {
  std::string_view name;
  E value;
};

template <class E, size_t N>
struct EnumTraits {
  static std::string type_name(const std::array<EnumName<E>, N>& names) {
    std::string out = "one of: ";
    for (size_t i = 0; i < N; ++i)
      out += (i ? ", " : "") + std::string(names[i].name);
    return out;
  }
  static Parsed<E> parse(const std::array<EnumName<E>, N>& names, std::string_view text) {
    for (const auto& n : names) {
      if (n.name == text) return Parsed<E>::ok(n.value);
    }
    return Parsed<E>::fail("expected " + type_name(names) + ", got '" + std::string(text) + "'");
  }
  static std::string format(const std::array<EnumName<E>, N>& names, E v) {
    for (const auto& n : names) {
      if (n.value == v) return std::string(n.name);
    }
    return "?";
  }
};

#define FIELDLINK_CONFIG_ENUM(E, ...)                                               \
  template <>                                                                       \
  struct ValueTraits<E> {                                                           \
    static constexpr std::array kNames = std::to_array<EnumName<E>>({__VA_ARGS__}); \
    using Base = EnumTraits<E, kNames.size()>;                                      \
    static std::string type_name() { return Base::type_name(kNames); }              \
    static Parsed<E> parse(std::string_view t, const ParseContext&) {               \
      return Base::parse(kNames, t);                                                \
    }                                                                               \
    static std::string format(E v) { return Base::format(kNames, v); }              \
  }

template <class T>
std::string range_text(const Range<T>& r) {
  using Tr = ValueTraits<T>;
  if constexpr (std::totally_ordered<T>) {
    if (r.min && r.max) return Tr::format(*r.min) + " .. " + Tr::format(*r.max);
    if (r.min) return "at least " + Tr::format(*r.min);
    if (r.max) return "at most " + Tr::format(*r.max);
  }
  return {};
}

template <class T>
std::string check_range(const T& v, const Range<T>& r) {
  using Tr = ValueTraits<T>;
  if constexpr (std::totally_ordered<T>) {
    const bool low = r.min && v < *r.min;
    const bool high = r.max && *r.max < v;
    if (low || high) {
      if (r.min && r.max) {
        return "must be between " + Tr::format(*r.min) + " and " + Tr::format(*r.max) + ", got " +
               Tr::format(v);
      }
      return low ? "must be at least " + Tr::format(*r.min) + ", got " + Tr::format(v)
                 : "must be at most " + Tr::format(*r.max) + ", got " + Tr::format(v);
    }
  }
  return {};
}

// One table row; `get` reaches the member inside the root the table fills.
template <class Root, class T, class Get>
Field<Root> row(std::string key, Get get, std::optional<std::string> def, std::string description,
                Range<T> range = {}) {
  Field<Root> f;
  f.key = std::move(key);
  f.type = ValueTraits<T>::type_name();
  f.default_text = std::move(def);
  f.range = range_text(range);
  f.description = std::move(description);
  f.assign = [get, range](std::string_view text, const ParseContext& ctx, Root& root) {
    auto parsed = ValueTraits<T>::parse(text, ctx);
    if (!parsed.value) return parsed.error;
    if (auto why = check_range(*parsed.value, range); !why.empty()) return why;
    get(root) = std::move(*parsed.value);
    return std::string{};
  };
  return f;
}

// A key stored directly in the root: key("unit", &ModbusDevice::unit, "1", "...", {1, 247}).
template <class Root, class T>
Field<Root> key(std::string path, T Root::*member, std::optional<std::string> def,
                std::string description, Range<T> range = {}) {
  return row<Root, T>(
      std::move(path), [member](Root& r) -> T& { return r.*member; }, std::move(def),
      std::move(description), range);
}

// A key of a section struct inside the root: key("hub.port", &Config::hub, &HubConfig::port, ...).
template <class Root, class S, class T>
Field<Root> key(std::string path, S Root::*section, T S::*member, std::optional<std::string> def,
                std::string description, Range<T> range = {}) {
  return row<Root, T>(
      std::move(path), [section, member](Root& r) -> T& { return (r.*section).*member; },
      std::move(def), std::move(description), range);
}

// Markdown table rows documenting a schema table, each key under `prefix` (e.g. "devices[].").
// The header row is the caller's: `| key | type | default | range | description |`.
template <class Root>
std::string reference_rows(std::string_view prefix, const std::vector<Field<Root>>& fields) {
  std::string out;
  for (const auto& f : fields) {
    out += "| `" + std::string(prefix) + f.key + "` | " + f.type + " | " +
           (f.default_text ? "`" + *f.default_text + "`" : std::string("required")) + " | " +
           f.range + " | " + f.description + " |\n";
  }
  return out;
}

}  // namespace fieldlink::config
