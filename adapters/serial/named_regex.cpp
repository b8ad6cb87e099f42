#include "adapters/serial/named_regex.hpp"

#include <algorithm>

namespace fieldlink::serial {
namespace {

bool name_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (!first && c >= '0' && c <= '9');
}

}  // namespace

std::optional<NamedRegex> NamedRegex::compile(std::string_view pattern, std::string& error) {
  NamedRegex out;
  std::string plain;
  plain.reserve(pattern.size());
  std::size_t groups = 0;
  bool in_class = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {  // an escaped character is never syntax
      plain.push_back(c);
      if (i + 1 < pattern.size()) plain.push_back(pattern[++i]);
      continue;
    }
    if (in_class) {
      in_class = c != ']';
      plain.push_back(c);
      continue;
    }
    if (c == '[') {
      in_class = true;
      plain.push_back(c);
      continue;
    }
    if (c != '(') {
      plain.push_back(c);
      continue;
    }
    const auto rest = pattern.substr(i + 1);
    std::size_t name_at = 0;
    if (rest.starts_with("?<") && !rest.starts_with("?<=") && !rest.starts_with("?<!")) {
      name_at = 2;
    } else if (rest.starts_with("?P<")) {
      name_at = 3;
    } else {
      // (?:...), (?=...), (?!...) do not capture; every other ( does.
      if (!rest.starts_with("?")) ++groups;
      plain.push_back(c);
      continue;
    }
    const auto close = rest.find('>', name_at);
    const auto name = close == std::string_view::npos ? std::string_view{}
                                                      : rest.substr(name_at, close - name_at);
    if (name.empty() || !name_char(name[0], true) ||
        !std::all_of(name.begin(), name.end(), [](char n) { return name_char(n, false); })) {
      error = "group name at column " + std::to_string(i + 1) +
              " must be letters, digits and '_', starting with a letter or '_'";
      return std::nullopt;
    }
    if (std::find(out.names_.begin(), out.names_.end(), name) != out.names_.end()) {
      error = "group name '" + std::string(name) + "' is used twice";
      return std::nullopt;
    }
    out.names_.emplace_back(name);
    out.numbers_.push_back(++groups);
    plain.push_back('(');
    i += 1 + close;  // past '>'
  }
  try {
    out.regex_ = std::regex(plain, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    error = std::string("invalid regular expression: ") + e.what();
    return std::nullopt;
  }
  if (out.regex_.mark_count() != groups) {
    // Our group count must agree with the engine's, or names would point at the wrong groups.
    error = "cannot number the groups of this pattern; use only (...), (?:...) and (?<name>...)";
    return std::nullopt;
  }
  return out;
}

bool NamedRegex::search(std::string_view text,
                        std::vector<std::pair<std::string, std::string>>* groups) const {
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_search(text.begin(), text.end(), m, regex_)) return false;
  if (groups == nullptr) return true;
  groups->clear();
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (m[numbers_[i]].matched) groups->emplace_back(names_[i], m[numbers_[i]].str());
  }
  return true;
}

}  // namespace fieldlink::serial
