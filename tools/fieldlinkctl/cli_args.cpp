#include "cli_args.hpp"

#include <algorithm>

namespace fieldlink::ctl {

bool ParsedArgs::has(std::string_view name) const {
  return flags.contains(std::string(name)) || values.contains(std::string(name)) ||
         lists.contains(std::string(name));
}

std::vector<std::string> ParsedArgs::all(std::string_view name) const {
  const auto it = lists.find(std::string(name));
  return it == lists.end() ? std::vector<std::string>() : it->second;
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
    if (out.args.has(name) && !it->repeats) {
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
    std::string value;
    if (eq != std::string::npos) {
      value = w.substr(eq + 1);
    } else if (i + 1 < words.size()) {
      value = words[++i];
    } else {
      out.error = "option '" + name + "' needs a value";
      return out;
    }
    if (it->repeats) {
      out.args.lists[name].push_back(std::move(value));
    } else {
      out.args.values[name] = std::move(value);
    }
  }
  return out;
}

}  // namespace fieldlink::ctl
