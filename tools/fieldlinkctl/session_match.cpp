#include "session_match.hpp"

#include <string_view>

namespace fieldlink::ctl {
namespace {

bool matches(std::string_view t, std::string_view s) {
  if (t.empty()) return s.empty();
  if (t.size() >= 3 && t[0] == '{' && t[2] == '}' && t[1] >= '1' && t[1] <= '9') {
    // A placeholder takes at least one character; try every length.
    for (size_t n = 1; n <= s.size(); ++n) {
      if (matches(t.substr(3), s.substr(n))) return true;
    }
    return false;
  }
  return !s.empty() && t[0] == s[0] && matches(t.substr(1), s.substr(1));
}

}  // namespace

bool session_belongs(const std::string& templ, const std::string& client_id) {
  return matches(templ, client_id);
}

SessionSummary sessions_for(const std::string& templ, const nlohmann::json& sessions) {
  SessionSummary out;
  if (!sessions.is_array()) return out;
  for (const auto& s : sessions) {
    if (!s.is_object() || !session_belongs(templ, s.value("identity", std::string()))) continue;
    ++out.total;
    const auto state = s.value("state", std::string("?"));
    if (state == "online") ++out.online;
    out.single_state = out.total == 1 ? state : std::string();
  }
  return out;
}

}  // namespace fieldlink::ctl
