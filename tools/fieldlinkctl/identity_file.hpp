#pragma once
// The identities.d file `fieldlinkctl identity add` writes: one binding, as a one-item YAML list,
// under a header that marks it as written by fieldlinkctl and names the key file it created (so
// `remove` deletes only what `add` made). Pure text in and out.
#include <optional>
#include <string>

namespace fieldlink::ctl {

struct BindingText {
  std::string source;
  std::string device_id;
  std::string module_id;
  std::string key_file;
  std::string cert_file;
  std::string group_key_file;
  std::string created_key_file;  // the key file fieldlinkctl wrote for it, if any
};

// The file's text.
std::string identity_file_text(const BindingText& binding);

// "<device_id>.yaml" or "<device_id>@<module_id>.yaml" (hub ids have no '/', so this is a
// plain file name; '@' may occur in a device id, so the caller still refuses an existing name).
std::string identity_file_name(const std::string& device_id, const std::string& module_id);
// Same stem with ".key".
std::string key_file_name(const std::string& device_id, const std::string& module_id);

struct FileMarker {
  bool written_by_ctl = false;
  std::string created_key_file;
};
// Reads the header back from a file's text.
FileMarker read_marker(const std::string& text);

// A YAML double-quoted scalar: safe for ids with ':', '!', '{' and paths with spaces.
std::string yaml_quote(const std::string& text);

}  // namespace fieldlink::ctl
