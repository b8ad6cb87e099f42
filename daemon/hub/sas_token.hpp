#pragma once
// Shared access signatures for IoT Hub's device endpoint (iothub-mqtt.md §2): HMAC-SHA256 over
// `sr + "\n" + se` with the base64-decoded key, signing exactly the `sr` string that is sent.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/ids.hpp"

namespace fieldlink::hub {

// "{host}/devices/{device}[/modules/{module}]", before encoding.
std::string sas_resource(std::string_view host, const Identity& identity);

// The full password value: "SharedAccessSignature sr=…&sig=…&se=…[&skn=…]". nullopt when the
// key is not valid base64.
std::optional<std::string> make_sas_token(std::string_view resource, std::string_view base64_key,
                                          std::chrono::system_clock::time_point expiry,
                                          std::string_view policy_name = {});

// A device key derived from a group key as DPS group enrollment does it:
// base64(HMAC-SHA256(base64decode(group_key), device_id)). nullopt for a key that is not base64.
std::optional<std::string> derive_device_key(std::string_view base64_group_key,
                                             std::string_view device_id);

std::optional<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);

}  // namespace fieldlink::hub
