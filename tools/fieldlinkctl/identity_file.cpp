#include "identity_file.hpp"

#include <cstdio>
#include <sstream>

namespace fieldlink::ctl {
namespace {

constexpr std::string_view kMarker = "# Written by fieldlinkctl identity add.";
constexpr std::string_view kKeyLine = "# fieldlinkctl created key file: ";

std::string stem(const std::string& device_id, const std::string& module_id) {
  return module_id.empty() ? device_id : device_id + "@" + module_id;
}

}  // namespace

std::string yaml_quote(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string identity_file_text(const BindingText& b) {
  std::string out(kMarker);
  out += " `fieldlinkctl identity remove` deletes it\n# (and the key file below, if any).\n";
  if (!b.created_key_file.empty()) out += std::string(kKeyLine) + b.created_key_file + "\n";
  out += "- source: " + yaml_quote(b.source) + "\n";
  out += "  device_id: " + yaml_quote(b.device_id) + "\n";
  if (!b.module_id.empty()) out += "  module_id: " + yaml_quote(b.module_id) + "\n";
  if (!b.key_file.empty()) out += "  key_file: " + yaml_quote(b.key_file) + "\n";
  if (!b.cert_file.empty()) out += "  cert_file: " + yaml_quote(b.cert_file) + "\n";
  if (!b.group_key_file.empty()) out += "  group_key_file: " + yaml_quote(b.group_key_file) + "\n";
  return out;
}

std::string identity_file_name(const std::string& device_id, const std::string& module_id) {
  return stem(device_id, module_id) + ".yaml";
}

std::string key_file_name(const std::string& device_id, const std::string& module_id) {
  return stem(device_id, module_id) + ".key";
}

FileMarker read_marker(const std::string& text) {
  FileMarker m;
  std::istringstream in(text);
  std::string line;
  bool first = true;
  while (std::getline(in, line) && line.starts_with("#")) {
    if (first) m.written_by_ctl = line.starts_with(kMarker);
    first = false;
    if (line.starts_with(kKeyLine)) m.created_key_file = line.substr(kKeyLine.size());
  }
  return m;
}

}  // namespace fieldlink::ctl
