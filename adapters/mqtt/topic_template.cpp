#include "adapters/mqtt/topic_template.hpp"

#include <algorithm>
#include <charconv>

#include "adapters/mqtt/topic_filter.hpp"

namespace fieldlink::mqtt {

bool valid_device_key(std::string_view key) {
  return !key.empty() && key.size() <= 128 && std::none_of(key.begin(), key.end(), [](char c) {
    return c == '/' || c == '+' || c == '#' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f;
  });
}

std::optional<TopicTemplate> TopicTemplate::parse(std::string_view text,
                                                  const std::vector<std::string>& names,
                                                  size_t max_index, std::string* error) {
  auto fail = [error](std::string why) -> std::optional<TopicTemplate> {
    if (error != nullptr) *error = std::move(why);
    return std::nullopt;
  };
  auto allowed_text = [&names, max_index] {
    std::string out;
    for (const auto& n : names)
      out += (out.empty() ? "{" : ", {") + n + "}";
    if (max_index > 0) {
      out += (out.empty() ? "{1}" : ", {1}") +
             (max_index > 1 ? std::string(" … {") + std::to_string(max_index) + "}" : "");
    }
    return out.empty() ? std::string("none") : out;
  };
  TopicTemplate t;
  t.text_ = std::string(text);
  size_t pos = 0;
  while (pos < text.size()) {
    const auto open = text.find('{', pos);
    const auto close_stray = text.find('}', pos);
    if (close_stray != std::string_view::npos && close_stray < open) {
      return fail("unmatched '}' at offset " + std::to_string(close_stray));
    }
    if (open == std::string_view::npos) {
      t.parts_.push_back({false, std::string(text.substr(pos))});
      break;
    }
    if (open > pos) t.parts_.push_back({false, std::string(text.substr(pos, open - pos))});
    const auto close = text.find('}', open);
    if (close == std::string_view::npos) {
      return fail("unmatched '{' at offset " + std::to_string(open));
    }
    const auto name = text.substr(open + 1, close - open - 1);
    size_t index = 0;
    const auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), index);
    const bool numeric = ec == std::errc{} && ptr == name.data() + name.size();
    const bool known = numeric ? (index >= 1 && index <= max_index)
                               : std::find(names.begin(), names.end(), name) != names.end();
    if (!known) {
      return fail("unknown placeholder {" + std::string(name) + "}; this key may use " +
                  allowed_text());
    }
    t.parts_.push_back({true, std::string(name)});
    pos = close + 1;
  }
  return t;
}

std::string TopicTemplate::expand(
    const std::function<std::string_view(std::string_view)>& value) const {
  std::string out;
  for (const auto& p : parts_) {
    if (p.placeholder) {
      out += value(p.text);
    } else {
      out += p.text;
    }
  }
  return out;
}

bool TopicTemplate::uses(std::string_view name) const {
  return std::any_of(parts_.begin(), parts_.end(),
                     [name](const Part& p) { return p.placeholder && p.text == name; });
}

std::optional<size_t> TopicTemplate::whole_level(std::string_view name) const {
  const std::string marker = "\x01";
  const auto levels_text = expand([&](std::string_view n) -> std::string_view {
    return n == name ? std::string_view(marker) : std::string_view("x");
  });
  const auto levels = topic_levels(levels_text);
  std::optional<size_t> found;
  for (size_t i = 0; i < levels.size(); ++i) {
    if (levels[i].find('\x01') == std::string_view::npos) continue;
    if (levels[i] != marker || found) return std::nullopt;  // partial level, or used twice
    found = i;
  }
  return found;
}

std::string TopicTemplate::as_filter() const {
  return expand([](std::string_view) { return std::string_view("+"); });
}

}  // namespace fieldlink::mqtt
