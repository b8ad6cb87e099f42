#pragma once
// What a session receives from the hub for its identity, decoded (iothub-mqtt.md §5–§7).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/ids.hpp"
#include "core/message.hpp"

namespace fieldlink::hub {

struct Downlink {
  enum class Kind { c2d, method, desired };
  Kind kind = Kind::c2d;
  Identity identity;
  std::string name;       // method name
  std::string payload;    // C2D body, method JSON, desired properties JSON (patch or full)
  std::string id;         // C2D message id ($.mid) or method request id ($rid)
  Properties properties;  // C2D application properties
  std::string expiry;     // C2D $.exp, ISO-8601 as the hub sent it
  std::optional<std::int64_t> version;  // desired $version
  bool full_desired = false;            // the whole desired section (after a twin GET), not a patch
};

// How the receiver of a downlink settles it with the session. `taken`: it is safe (a C2D
// message is in the journal), so the session may acknowledge it to the hub. `abandoned`: it
// could not be kept; the session reconnects without acknowledging it, so the hub delivers it
// again and the messages behind it (PUBACKs go out in order) are not held up.
enum class Settle { taken, abandoned };
using SettleDownlink = std::function<void(Settle)>;

}  // namespace fieldlink::hub
