#include "core/ids.hpp"

#include <algorithm>

namespace fieldlink {
namespace {

constexpr std::string_view kSeparator = "://";

bool valid_scheme(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool valid_name(std::string_view s) {
  return !s.empty() &&
         std::none_of(s.begin(), s.end(), [](char c) { return c == '/' || c <= ' ' || c == 0x7f; });
}

}  // namespace

std::optional<SourceAddress> SourceAddress::parse(std::string_view text) {
  const auto sep = text.find(kSeparator);
  if (sep == std::string_view::npos || !valid_scheme(text.substr(0, sep))) return std::nullopt;
  const auto rest = text.substr(sep + kSeparator.size());
  const auto slash = rest.find('/');
  if (!valid_name(rest.substr(0, slash))) return std::nullopt;
  if (slash != std::string_view::npos) {
    const auto key = rest.substr(slash + 1);
    if (key.empty() || std::any_of(key.begin(), key.end(), [](char c) { return c <= ' '; })) {
      return std::nullopt;
    }
  }
  return SourceAddress(std::string(text), sep);
}

SourceAddress SourceAddress::make(std::string_view scheme, const AdapterName& adapter,
                                  std::string_view device_key) {
  std::string text;
  text.reserve(scheme.size() + kSeparator.size() + adapter.str().size() + 1 + device_key.size());
  text.append(scheme).append(kSeparator).append(adapter.str());
  if (!device_key.empty()) text.append("/").append(device_key);
  return SourceAddress(std::move(text), scheme.size());
}

std::string_view SourceAddress::adapter() const {
  const auto rest = std::string_view(text_).substr(scheme_len_ + kSeparator.size());
  return rest.substr(0, rest.find('/'));
}

std::string_view SourceAddress::device_key() const {
  const auto rest = std::string_view(text_).substr(scheme_len_ + kSeparator.size());
  const auto slash = rest.find('/');
  return slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
}

}  // namespace fieldlink
