// libFuzzer target: the MQTT adapter's payload decoder, for each format (json pass-through, json
// with a field list and a device field, value, raw) and the reported-properties JSON path. Errors
// are values, so nothing may throw; the one-value formats give exactly one value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "adapters/mqtt/payload_decoder.hpp"

namespace {

using fieldlink::mqtt::PayloadFormat;
using fieldlink::mqtt::TopicRoute;

TopicRoute route(PayloadFormat format) {
  TopicRoute r;
  r.format = format;
  r.value_name = format == PayloadFormat::raw ? "raw" : "value";
  return r;
}

TopicRoute mapped() {
  auto r = route(PayloadFormat::json);
  r.fields = {{"temperature", "data.t"}, {"id", "id"}};
  r.device_field = "meta.dev";
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fieldlink::mqtt;
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  static const TopicRoute routes[] = {route(PayloadFormat::json), mapped(),
                                      route(PayloadFormat::value), route(PayloadFormat::raw)};
  for (const auto& r : routes) {
    const auto d = decode_payload(r, payload);
    // A value-format payload is always one value; raw, too, whatever the bytes.
    if (d.ok() && r.format != PayloadFormat::json && d.values.size() != 1) std::abort();
  }
  (void)decode_json_object(payload);
  (void)valid_utf8(payload);
  return 0;
}
