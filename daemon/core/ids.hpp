#pragma once
// The names the parts of the gateway use for devices, identities and adapters (design.md §3).
#include <optional>
#include <string>
#include <string_view>

#include "core/strong_id.hpp"

namespace fieldlink {

using AdapterName = StrongId<struct AdapterNameTag>;
using DeviceId = StrongId<struct DeviceIdTag>;
using ModuleId = StrongId<struct ModuleIdTag>;

// A hub identity: a device, or a module on a device. Rendered as IoT Hub renders client ids.
struct Identity {
  DeviceId device;
  ModuleId module;  // empty for a device identity

  std::string client_id() const {
    return module.empty() ? device.str() : device.str() + "/" + module.str();
  }
  friend auto operator<=>(const Identity&, const Identity&) = default;
};

// The canonical address of one field device: `<scheme>://<adapter>[/<device-key>]`, where the
// scheme is the protocol (`modbus`, `ble`, `serial`, `mqtt`) and the adapter part is the name of
// the adapter instance that owns the device. Only `parse` makes one, so every instance is well
// formed.
class SourceAddress {
 public:
  static std::optional<SourceAddress> parse(std::string_view text);
  static SourceAddress make(std::string_view scheme, const AdapterName& adapter,
                            std::string_view device_key);

  const std::string& str() const { return text_; }
  std::string_view scheme() const { return std::string_view(text_).substr(0, scheme_len_); }
  std::string_view adapter() const;
  std::string_view device_key() const;  // empty when the adapter itself is the device

  friend bool operator==(const SourceAddress& a, const SourceAddress& b) {
    return a.text_ == b.text_;
  }
  friend auto operator<=>(const SourceAddress& a, const SourceAddress& b) {
    return a.text_ <=> b.text_;
  }

 private:
  SourceAddress(std::string text, size_t scheme_len)
      : text_(std::move(text)), scheme_len_(scheme_len) {}
  std::string text_;
  size_t scheme_len_ = 0;
};

}  // namespace fieldlink
