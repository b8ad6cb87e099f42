#pragma once
// One function per fieldlinkctl command; each takes the words after the command name and returns
// the exit code (exit_codes.hpp).
#include <string>
#include <vector>

namespace fieldlink::ctl {

using Words = std::vector<std::string>;

int run_status(const Words& words);
int run_devices(const Words& words);
int run_check_config(const Words& words);
int run_reload(const Words& words);
int run_identity(const Words& words);
int run_invoke(const Words& words);
int run_send_c2d(const Words& words);

// Prints "fieldlinkctl: <what>" and the hint to use --help; returns kExitUsage.
int usage_error(const std::string& what);

}  // namespace fieldlink::ctl
