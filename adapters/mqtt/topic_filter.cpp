#include "adapters/mqtt/topic_filter.hpp"

namespace fieldlink::mqtt {

std::vector<std::string_view> topic_levels(std::string_view topic) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const auto slash = topic.find('/', start);
    out.push_back(topic.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

TopicFilter::TopicFilter(std::string text) : text_(std::move(text)) {
  for (auto level : topic_levels(text_)) {
    levels_.emplace_back(level);
    if (level == "+" || level == "#") ++wildcards_;
  }
}

std::optional<TopicFilter> TopicFilter::parse(std::string_view text, std::string* error) {
  auto fail = [error](std::string why) -> std::optional<TopicFilter> {
    if (error != nullptr) *error = std::move(why);
    return std::nullopt;
  };
  if (text.empty()) return fail("a topic filter must not be empty");
  if (text.size() > 65535) return fail("a topic filter is at most 65535 bytes");
  if (text.find('\0') != std::string_view::npos) return fail("a topic filter must not contain NUL");
  const auto levels = topic_levels(text);
  for (size_t i = 0; i < levels.size(); ++i) {
    const auto level = levels[i];
    const bool has_plus = level.find('+') != std::string_view::npos;
    const bool has_hash = level.find('#') != std::string_view::npos;
    if (has_plus && level != "+") {
      return fail("'+' must fill a whole topic level, as in a/+/b; got '" + std::string(level) +
                  "'");
    }
    if (has_hash && (level != "#" || i + 1 != levels.size())) {
      return fail("'#' may only be the last topic level, as in a/#");
    }
  }
  return TopicFilter(std::string(text));
}

std::optional<std::vector<std::string_view>> TopicFilter::match(std::string_view topic) const {
  std::vector<std::string_view> captures;
  captures.reserve(wildcards_);
  size_t pos = 0;
  for (size_t i = 0; i < levels_.size(); ++i) {
    const auto& want = levels_[i];
    if (want == "#") {
      if (i == 0 && topic.starts_with('$')) return std::nullopt;
      // `a/#` also matches `a` itself (§4.7.1.2); then the capture is empty.
      captures.push_back(pos <= topic.size() ? topic.substr(pos) : std::string_view{});
      return captures;
    }
    if (pos > topic.size()) return std::nullopt;  // the topic has fewer levels
    const auto slash = topic.find('/', pos);
    const auto level =
        topic.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (want == "+") {
      if (i == 0 && topic.starts_with('$')) return std::nullopt;
      captures.push_back(level);
    } else if (level != want) {
      return std::nullopt;
    }
    pos = slash == std::string_view::npos ? topic.size() + 1 : slash + 1;
  }
  if (pos <= topic.size()) return std::nullopt;  // the topic has more levels
  return captures;
}

}  // namespace fieldlink::mqtt
