#include "cli_args.hpp"

#include <algorithm>

namespace fieldlink::ctl {

bool ParsedArgs::has(std::string_view name) const {
  return flags.contains(std::string(name)) || values.contains(std::string(name));
}

std::optional<std::string> ParsedArgs::value(std::string_view name) const {
  const auto it = values.find(std::string(name));
  if (it == values.end()) return std::nullopt;
  return it->second;
}

ArgsOrError parse_args(const std::vector<std::string>& words, const std::vector<OptionSpec>& spec) {
  ArgsOrError out;
  bool options_done = false;
  for (size_t i = 0; i < words.size(); ++i) {
    const auto& w = words[i];
    if (options_done || !w.starts_with("--")) {
      out.args.positional.push_back(w);
      continue;
    }
    if (w == "--") {
      options_done = true;
      continue;
    }
    const auto eq = w.find('=');
    const auto name = w.substr(0, eq);
    const auto it =
        std::find_if(spec.begin(), spec.end(), [&](const OptionSpec& s) { return s.name == name; });
    if (it == spec.end()) {
      out.error = "unknown option '" + name + "'";
      return out;
    }
    if (out.args.has(name)) {
      out.error = "option '" + name + "' is given twice";
      return out;
    }
    if (!it->takes_value) {
      if (eq != std::string::npos) {
        out.error = "option '" + name + "' takes no value";
        return out;
      }
      out.args.flags.insert(name);
      continue;
    }
    if (eq != std::string::npos) {
      out.args.values[name] = w.substr(eq + 1);
    } else if (i + 1 < words.size()) {
      out.args.values[name] = words[++i];
    } else {
      out.error = "option '" + name + "' needs a value";
      return out;
    }
  }
  return out;
}

}  // namespace fieldlink::ctl
