#include "hub/topics.hpp"

#include <charconv>

#include "core/url_encoding.hpp"

namespace fieldlink::hub {
namespace {

constexpr std::string_view kMethodPost = "$iothub/methods/POST/";
constexpr std::string_view kTwinResponse = "$iothub/twin/res/";
constexpr std::string_view kDesired = "$iothub/twin/PATCH/properties/desired/";

std::string device_prefix(const Identity& id) {
  std::string p = "devices/" + id.device.str();
  if (!id.module.empty()) p += "/modules/" + id.module.str();
  return p;
}

// The value of `name` in a query string like "$rid=7&$version=3"; nullopt when absent.
std::optional<std::string> query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto item = query.substr(0, amp);
    const auto eq = item.find('=');
    if (item.substr(0, eq) == name) {
      return std::string(eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

template <class T>
std::optional<T> number(std::string_view s) {
  T v{};
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

std::string mqtt_username(std::string_view host, const Identity& identity) {
  std::string u(host);
  u.append("/").append(identity.device.str());
  if (!identity.module.empty()) u.append("/").append(identity.module.str());
  u.append("/?api-version=").append(kApiVersion);
  u.append("&DeviceClientType=").append(percent_encode("fieldlink/" FIELDLINK_VERSION));
  return u;
}

std::string telemetry_topic(const Identity& identity, const PropertyBag& bag) {
  return device_prefix(identity) + "/messages/events/" + bag.encode();
}

std::vector<std::string> subscription_filters(const Identity& identity) {
  std::vector<std::string> filters;
  if (identity.module.empty()) {
    filters.push_back("devices/" + identity.device.str() + "/messages/devicebound/#");
  }
  filters.emplace_back("$iothub/methods/POST/#");
  filters.emplace_back("$iothub/twin/res/#");
  filters.emplace_back("$iothub/twin/PATCH/properties/desired/#");
  return filters;
}

std::string method_response_topic(int status, std::string_view rid) {
  return "$iothub/methods/res/" + std::to_string(status) + "/?$rid=" + std::string(rid);
}

std::string twin_get_topic(std::string_view rid) {
  return "$iothub/twin/GET/?$rid=" + std::string(rid);
}

std::string twin_reported_topic(std::string_view rid) {
  return "$iothub/twin/PATCH/properties/reported/?$rid=" + std::string(rid);
}

Inbound classify_inbound(std::string_view topic, const Identity& identity) {
  Inbound in;
  const auto c2d_prefix = "devices/" + identity.device.str() + "/messages/devicebound/";
  if (topic.size() >= c2d_prefix.size() &&
      iequals(topic.substr(0, c2d_prefix.size()), c2d_prefix)) {
    // Split only the bag, never the whole topic: values may hold encoded slashes (§5.2).
    auto bag = PropertyBag::decode(topic.substr(c2d_prefix.size()));
    if (!bag) return in;
    in.kind = Inbound::Kind::c2d;
    in.bag = std::move(*bag);
    return in;
  }
  if (topic.starts_with(kMethodPost)) {
    const auto rest = topic.substr(kMethodPost.size());
    const auto slash = rest.find('/');
    const auto q = rest.find('?');
    if (slash == std::string_view::npos || q == std::string_view::npos || slash == 0) return in;
    auto rid = query_value(rest.substr(q + 1), "$rid");
    if (!rid || rid->empty()) return in;
    in.kind = Inbound::Kind::method;
    in.method = std::string(rest.substr(0, slash));
    in.rid = std::move(*rid);
    return in;
  }
  if (topic.starts_with(kTwinResponse)) {
    const auto rest = topic.substr(kTwinResponse.size());
    const auto slash = rest.find('/');
    const auto q = rest.find('?');
    if (slash == std::string_view::npos || q == std::string_view::npos) return in;
    const auto status = number<int>(rest.substr(0, slash));
    auto rid = query_value(rest.substr(q + 1), "$rid");
    if (!status || !rid) return in;
    in.kind = Inbound::Kind::twin_response;
    in.status = *status;
    in.rid = std::move(*rid);
    if (auto v = query_value(rest.substr(q + 1), "$version")) in.version = number<std::int64_t>(*v);
    return in;
  }
  if (topic.starts_with(kDesired)) {
    const auto rest = topic.substr(kDesired.size());
    const auto q = rest.find('?');
    if (q == std::string_view::npos) return in;
    const auto v = query_value(rest.substr(q + 1), "$version");
    in.version = v ? number<std::int64_t>(*v) : std::nullopt;
    if (!in.version) return in;
    in.kind = Inbound::Kind::desired;
    return in;
  }
  return in;
}

}  // namespace fieldlink::hub
