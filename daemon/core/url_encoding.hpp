#pragma once
// Percent-encoding as IoT Hub's property bags and SAS tokens need it (iothub-mqtt.md §2.3, §4.2),
// and the control socket's request paths:
// RFC 3986 unreserved characters kept, every other byte as %XX with upper-case hex; `+` is a
// literal plus, never a space, in both directions.
#include <optional>
#include <string>
#include <string_view>

namespace fieldlink {

std::string percent_encode(std::string_view text);
// nullopt when a `%` is not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace fieldlink
