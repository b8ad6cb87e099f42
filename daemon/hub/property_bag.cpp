#include "hub/property_bag.hpp"

#include <array>

#include "core/url_encoding.hpp"
#include "core/utc_time.hpp"

namespace fieldlink::hub {
namespace {

struct SystemKey {
  std::string_view wire;  // without the leading "$."
  std::string PropertyBag::*member;
};

constexpr std::array<SystemKey, 8> kSystemKeys{{
    {"mid", &PropertyBag::message_id},
    {"cid", &PropertyBag::correlation_id},
    {"ct", &PropertyBag::content_type},
    {"ce", &PropertyBag::content_encoding},
    {"uid", &PropertyBag::user_id},
    {"to", &PropertyBag::to},
    {"exp", &PropertyBag::expiry},
    {"ctime", &PropertyBag::creation_time},
}};

void append_pair(std::string& out, std::string_view encoded_name, std::string_view value) {
  if (!out.empty()) out += '&';
  out.append(encoded_name);
  out += '=';
  out += percent_encode(value);
}

}  // namespace

std::string PropertyBag::encode() const {
  std::string out;
  for (const auto& key : kSystemKeys) {
    const auto& value = this->*key.member;
    // `$` goes encoded, as every SDK sends it (iothub-mqtt.md §4.2).
    if (!value.empty()) append_pair(out, "%24." + std::string(key.wire), value);
  }
  for (const auto& [name, value] : application)
    append_pair(out, percent_encode(name), value);
  return out;
}

std::optional<PropertyBag> PropertyBag::decode(std::string_view bag) {
  PropertyBag out;
  while (!bag.empty()) {
    const auto amp = bag.find('&');
    const auto item = bag.substr(0, amp);
    bag = amp == std::string_view::npos ? std::string_view{} : bag.substr(amp + 1);
    if (item.empty()) continue;  // a trailing `&` or `/` separator carries nothing
    const auto eq = item.find('=');
    auto name = percent_decode(item.substr(0, eq));
    auto value = eq == std::string_view::npos ? std::optional<std::string>("")
                                              : percent_decode(item.substr(eq + 1));
    if (!name || !value) return std::nullopt;
    bool system = false;
    if (*name == "iothub-ack") {
      out.ack = std::move(*value);
      system = true;
    } else if (name->starts_with("$.")) {
      for (const auto& key : kSystemKeys) {
        if (std::string_view(*name).substr(2) == key.wire) {
          out.*key.member = std::move(*value);
          system = true;
          break;
        }
      }
    }
    if (!system) out.application.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

PropertyBag bag_of(const Message& message) {
  PropertyBag bag;
  bag.message_id = message.id;
  bag.content_type = message.content_type;
  bag.content_encoding = message.content_encoding;
  if (message.created.time_since_epoch().count() != 0) {
    bag.creation_time = utc_iso8601(message.created);
  }
  bag.application = message.properties;
  return bag;
}

}  // namespace fieldlink::hub
