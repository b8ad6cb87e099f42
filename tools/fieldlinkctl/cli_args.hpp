#pragma once
// Command-line words after the command name → options and positional arguments, checked against
// what the command accepts. Pure: no I/O, so every refusal is unit-tested.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace fieldlink::ctl {

struct OptionSpec {
  std::string name;  // "--config"
  bool takes_value = false;
  bool repeats = false;  // may be given more than once (a value option); all() has them
};

struct ParsedArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;              // options with a value, by name
  std::set<std::string> flags;                            // options without one
  std::map<std::string, std::vector<std::string>> lists;  // repeatable options, in order

  // Every value of a repeatable option, in the order given.
  std::vector<std::string> all(std::string_view name) const;

  bool has(std::string_view name) const;
  std::optional<std::string> value(std::string_view name) const;
};

struct ArgsOrError {
  ParsedArgs args;
  std::string error;  // non-empty: a usage error, already a sentence
};

// Accepts `--name value` and `--name=value`; `--` ends the options. An option given twice (unless
// it repeats), an unknown option, or a missing value is an error.
ArgsOrError parse_args(const std::vector<std::string>& words, const std::vector<OptionSpec>& spec);

}  // namespace fieldlink::ctl
