#include "hub/sas_token.hpp"

#include "core/crypto.hpp"
#include "core/url_encoding.hpp"

namespace fieldlink::hub {
std::string sas_resource(std::string_view host, const Identity& identity) {
  std::string r(host);
  r.append("/devices/").append(identity.device.str());
  if (!identity.module.empty()) r.append("/modules/").append(identity.module.str());
  return r;
}

std::optional<std::string> make_sas_token(std::string_view resource, std::string_view base64_key,
                                          std::chrono::system_clock::time_point expiry,
                                          std::string_view policy_name) {
  const auto key = base64_decode(base64_key);
  if (!key || key->empty()) return std::nullopt;
  const auto se = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(expiry.time_since_epoch()).count());
  const auto sr = percent_encode(resource);
  const auto sig = percent_encode(base64_encode(hmac_sha256(*key, sr + "\n" + se)));
  std::string token = "SharedAccessSignature sr=" + sr + "&sig=" + sig + "&se=" + se;
  if (!policy_name.empty()) token.append("&skn=").append(policy_name);
  return token;
}

}  // namespace fieldlink::hub
