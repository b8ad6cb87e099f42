#include "config/map_reader.hpp"

namespace fieldlink::config {
namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string unknown_key_message(std::string_view key, const std::vector<std::string>& valid) {
  std::string msg = "unknown key '" + std::string(key) + "'";
  std::string best;
  size_t best_distance = 3;  // suggest only close misspellings
  for (const auto& v : valid) {
    if (const auto d = edit_distance(key, v); d < best_distance) {
      best_distance = d;
      best = v;
    }
  }
  if (!best.empty()) msg += " (did you mean '" + best + "'?)";
  msg += "; valid keys: ";
  for (size_t i = 0; i < valid.size(); ++i)
    msg += (i ? ", " : "") + valid[i];
  return msg;
}

std::string expected_text(const std::string& type) {
  if (type.starts_with("one of") || type.starts_with("true or")) return "expected " + type;
  const bool vowel = std::string_view("aeiou").find(type.front()) != std::string_view::npos;
  return std::string("expected ") + (vowel ? "an " : "a ") + type + " value";
}

std::string got_text(const ConfigNode& node) {
  return std::string("got ") + ConfigNode::kind_name(node.kind);
}

}  // namespace fieldlink::config
