#pragma once
// The two primitives both SAS tokens (hub) and derived device keys (identity map) are made of.
#include <optional>
#include <string>
#include <string_view>

namespace fieldlink {

std::string hmac_sha256(std::string_view key, std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);  // nullopt if not base64
std::string base64_encode(std::string_view bytes);

}  // namespace fieldlink
