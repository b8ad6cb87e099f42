#pragma once
// An MQTT topic filter (`plant/+/telemetry`, `site/#`) that also hands back what its wildcards
// matched, so a device key can be taken from a topic level (`device: "{1}"`).
// Thread: immutable after parse; match() may be called from any thread.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fieldlink::mqtt {

class TopicFilter {
 public:
  // Validates the filter as MQTT 3.1.1 §4.7 does: `+` fills a whole level, `#` only as the last
  // level. Returns why not in `error` when it is not valid.
  static std::optional<TopicFilter> parse(std::string_view text, std::string* error = nullptr);

  // The texts matched by the wildcards, in order (`#` gives the rest of the topic, possibly
  // empty), or nullopt. A topic starting with `$` never matches a leading wildcard (§4.7.2).
  std::optional<std::vector<std::string_view>> match(std::string_view topic) const;

  const std::string& str() const { return text_; }
  size_t wildcard_count() const { return wildcards_; }

 private:
  explicit TopicFilter(std::string text);
  std::string text_;
  std::vector<std::string> levels_;
  size_t wildcards_ = 0;
};

// Splits a topic at '/' (empty levels kept, as MQTT keeps them).
std::vector<std::string_view> topic_levels(std::string_view topic);

}  // namespace fieldlink::mqtt
