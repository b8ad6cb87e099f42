#include "status/status_query.hpp"

#include <map>

#include "core/url_encoding.hpp"
#include "status/status_board.hpp"

namespace fieldlink {
namespace {

constexpr std::string_view kTakes = "/status takes pretty and sessions=summary|full";

std::optional<bool> flag(std::string_view value) {
  if (value.empty() || value == "1" || value == "true") return true;
  if (value == "0" || value == "false") return false;
  return std::nullopt;
}

}  // namespace

ParsedStatusQuery parse_status_query(std::string_view query) {
  StatusQuery out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    const auto eq = part.find('=');
    const auto raw_key = part.substr(0, eq);
    const auto raw_value = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    const auto key = percent_decode(raw_key);
    const auto value = percent_decode(raw_value);
    if (!key || !value) {
      return {std::nullopt, "bad percent-encoding in query parameter '" + std::string(part) + "'"};
    }
    if (*key == "pretty") {
      const auto on = flag(*value);
      if (!on)
        return {std::nullopt, "pretty takes no value, 1/true or 0/false, not '" + *value + "'"};
      out.pretty = *on;
    } else if (*key == "sessions") {
      if (*value != "summary" && *value != "full") {
        return {std::nullopt, "sessions takes summary or full, not '" + *value + "'"};
      }
      out.sessions_summary = *value == "summary";
    } else {
      return {std::nullopt, "unknown query parameter '" + *key + "': " + std::string(kTakes)};
    }
  }
  return {out, {}};
}

nlohmann::json summarise_sessions(const nlohmann::json& sessions) {
  std::map<std::string, std::uint64_t> by_state;
  std::uint64_t count = 0;
  if (sessions.is_array()) {
    for (const auto& s : sessions) {
      ++count;
      const auto state = s.is_object() ? s.find("state") : s.end();
      ++by_state[state != s.end() && state->is_string() ? state->get<std::string>() : "unknown"];
    }
  }
  return {{"count", count}, {"by_state", by_state}};
}

std::string status_body(const StatusBoard& board, const StatusQuery& query) {
  auto doc = board.status(query.sessions_summary);
  // A provider without its own summary listed its sessions: counted here.
  if (query.sessions_summary && doc["sessions"].is_array()) {
    doc["sessions"] = summarise_sessions(doc["sessions"]);
  }
  // Names and errors come from devices and libraries: a byte that is not UTF-8 is replaced, not
  // thrown on the core loop.
  return doc.dump(query.pretty ? 2 : -1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

}  // namespace fieldlink
