#pragma once
// A regular expression with named groups, `(?<name>...)` (or Python's `(?P<name>...)`), on top of
// std::regex, whose ECMAScript grammar has no named groups: the names are taken out of the
// pattern, each named group becomes a plain capturing group, and its number is remembered. All
// other syntax is ECMAScript's. Immutable after compile; safe to share between threads.
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fieldlink::serial {

class NamedRegex {
 public:
  // nullopt with `error` set when the pattern is invalid or names a group twice.
  static std::optional<NamedRegex> compile(std::string_view pattern, std::string& error);

  // Searches `text` (std::regex_search: anchor with ^ and $ to match whole frames); on a match,
  // the named groups that took part in it, in pattern order.
  bool search(std::string_view text,
              std::vector<std::pair<std::string, std::string>>* groups) const;
  const std::vector<std::string>& names() const { return names_; }

 private:
  std::regex regex_;
  std::vector<std::string> names_;
  std::vector<std::size_t> numbers_;  // capture group number of names_[i]
};

}  // namespace fieldlink::serial
