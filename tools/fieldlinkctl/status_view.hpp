#pragma once
// /status for a person: the daemon line, config and reload outcome, adapters, devices, hub
// sessions and the journal. Pure: renders a JSON document as of `now`; unknown or missing keys
// print as "?" rather than failing, so an older or newer daemon still gets a readable page.
#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "terminal.hpp"

namespace fieldlink::ctl {

std::string render_status(const nlohmann::json& status,
                          const std::vector<config::IdentityBinding>* bindings,
                          std::chrono::system_clock::time_point now, const Palette& palette);

// "0d 01:02:03"
std::string uptime_text(double seconds);

}  // namespace fieldlink::ctl
