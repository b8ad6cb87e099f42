#pragma once
// Which /status sessions belong to a binding: its own client id, or for a wildcard binding
// (device id with {1}, {2}…) every client id its template produces.
#include <string>

#include <nlohmann/json.hpp>

namespace fieldlink::ctl {

// Whether `client_id` is `templ` with each {n} replaced by one or more characters.
bool session_belongs(const std::string& templ, const std::string& client_id);

struct SessionSummary {
  std::size_t total = 0;
  std::size_t online = 0;
  std::string single_state;  // the state, when exactly one session matched
};
SessionSummary sessions_for(const std::string& templ, const nlohmann::json& sessions);

}  // namespace fieldlink::ctl
