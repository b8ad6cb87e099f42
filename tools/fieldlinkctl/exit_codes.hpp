#pragma once
// fieldlinkctl's exit codes, listed in `fieldlinkctl --help` so scripts can tell them apart.
// 2 for "daemon unreachable" predates the other commands (scripts and tests rely on it); 64 for
// usage matches fieldlinkd's own.
namespace fieldlink::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;       // the daemon refused, the config is invalid, …
inline constexpr int kExitUnreachable = 2;  // no fieldlinkd answers at the status URL
inline constexpr int kExitUsage = 64;

}  // namespace fieldlink::ctl
