#pragma once
// Text with placeholders: downlink topics (`plant/{device}/c2d`, `plant/{device}/methods/{method}`)
// and device keys built from topic levels (`line-{1}`). Placeholders are checked when the config
// is read, so a typo is a config error with a position, never a topic with braces in it.
// Thread: immutable after parse.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fieldlink::mqtt {

class TopicTemplate {
 public:
  // `names` are the placeholders this template may use ({device}, {method}, or {1}, {2}, … up
  // to `max_index` for capture templates). Returns why not in `error` when the text uses others.
  static std::optional<TopicTemplate> parse(std::string_view text,
                                            const std::vector<std::string>& names, size_t max_index,
                                            std::string* error);

  // Fills the placeholders; `value(name)` gives each one's text ("1" for {1}).
  std::string expand(const std::function<std::string_view(std::string_view)>& value) const;

  bool uses(std::string_view name) const;
  // The level index at which `name` fills a whole level (`a/{device}/b` → 1), or nullopt when it
  // is part of a level or absent. Reverse matching (answers, reported messages) needs this.
  std::optional<size_t> whole_level(std::string_view name) const;
  // The filter that matches every expansion: whole-level placeholders become `+`. Only valid
  // when every placeholder fills a whole level.
  std::string as_filter() const;
  const std::string& str() const { return text_; }

 private:
  struct Part {
    bool placeholder = false;
    std::string text;  // literal text or placeholder name
  };
  std::string text_;
  std::vector<Part> parts_;
};

// A device key must be usable as one topic level and in a source address: non-empty, at most 128
// bytes, no '/', '+', '#', spaces or control characters.
bool valid_device_key(std::string_view key);

}  // namespace fieldlink::mqtt
