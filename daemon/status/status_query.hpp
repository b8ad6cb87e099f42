#pragma once
// How one GET /status is rendered, chosen by its query (docs/operations.md, /status):
//   (none)            compact JSON, the whole document
//   ?pretty           indented, for a person reading it with curl
//   ?sessions=summary the per-identity `sessions` array replaced by counts per state
// Compact is the default because at thousands of identities the indentation alone is a large
// share of the bytes and of the core loop's time per request (bench/status measures it).
// A parameter it does not know is refused (400), not ignored: a typo such as `?summary` would
// otherwise quietly return the full document the caller meant to avoid.
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fieldlink {

class StatusBoard;

struct StatusQuery {
  bool pretty = false;
  bool sessions_summary = false;
};

struct ParsedStatusQuery {
  std::optional<StatusQuery> query;
  std::string error;  // set when `query` is empty: what was wrong, for the 400's body
};

// `query` is the target's part after '?' (may be empty).
ParsedStatusQuery parse_status_query(std::string_view query);

// {"count": N, "by_state": {"online": n, …}}: only the states some session is in.
nlohmann::json summarise_sessions(const nlohmann::json& sessions);

// The body of /status: the board's document as the query asks, ending in one newline.
std::string status_body(const StatusBoard& board, const StatusQuery& query);

}  // namespace fieldlink
