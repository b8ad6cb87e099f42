// libFuzzer target: the IoT Hub dialect's parsers of what the hub sends — a property bag
// (`name=value&…`, percent-encoded) and the topics published to an identity. A bag that decodes
// must encode and decode again to the same properties (all but `iothub-ack`: it is the C2D
// sender's feedback request, which encode() leaves out because a device never sends it).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "hub/property_bag.hpp"
#include "hub/topics.hpp"

namespace {

bool same(const fieldlink::hub::PropertyBag& a, const fieldlink::hub::PropertyBag& b) {
  return a.message_id == b.message_id && a.correlation_id == b.correlation_id &&
         a.content_type == b.content_type && a.content_encoding == b.content_encoding &&
         a.user_id == b.user_id && a.to == b.to && a.expiry == b.expiry &&
         a.creation_time == b.creation_time && a.application == b.application;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fieldlink;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (const auto bag = hub::PropertyBag::decode(text)) {
    const auto again = hub::PropertyBag::decode(bag->encode());
    if (!again || !same(*bag, *again)) std::abort();
  }

  static const Identity device{DeviceId("device1"), ModuleId()};
  static const Identity module{DeviceId("device1"), ModuleId("module1")};
  (void)hub::classify_inbound(text, device);
  (void)hub::classify_inbound(text, module);
  return 0;
}
