#include "hub/sas_token.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hub/url_encoding.hpp"

namespace fieldlink::hub {
namespace {

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock keeps the bytes of `=` padding; drop them.
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=')
    ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

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

std::optional<std::string> derive_device_key(std::string_view base64_group_key,
                                             std::string_view device_id) {
  const auto key = base64_decode(base64_group_key);
  if (!key || key->empty()) return std::nullopt;
  return base64_encode(hmac_sha256(*key, device_id));
}

}  // namespace fieldlink::hub
