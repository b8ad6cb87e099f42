#pragma once
// Files that hold keys or bindings, written so that a crash or a concurrent reader never sees
// half a file and an existing file is never overwritten: write a temp file beside the target
// (mode set at creation, never widened), fsync, then link it into place (fails if the name is
// taken) and fsync the folder. A new file takes the owner and group of its folder (set on the
// temp file, before the link), so what root writes into a folder the package made for the daemon
// stays readable to the daemon.
#include <sys/types.h>
#include <string>
#include <string_view>

namespace fieldlink::ctl {

// Creates `dir` (and missing parents) with `mode`; an existing folder is left as it is. Returns
// why not, or "".
std::string ensure_dir(const std::string& dir, mode_t mode);

// Writes `content` to `path` as described above. Returns why not, or "" (then `path` exists
// with `mode`, its folder's owner and group, and exactly `content`).
std::string write_new_file(const std::string& path, std::string_view content, mode_t mode);

// Writes `content` to a temp file in `dir` whose name does not end in .yaml (so no loader picks
// it up) and returns its path, or "" with `error` set.
std::string write_temp_file(const std::string& dir, const std::string& stem,
                            std::string_view content, mode_t mode, std::string& error);

// Links temp → path (no overwrite), removes temp, fsyncs the folder. Returns why not, or "".
std::string commit_temp_file(const std::string& temp, const std::string& path);

}  // namespace fieldlink::ctl
