#include "identity_editor.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/crypto.hpp"
#include "core/ids.hpp"
#include "edit_lock.hpp"
#include "identity-map/identity_map.hpp"
#include "identity_file.hpp"
#include "secret_file.hpp"

namespace fieldlink::ctl {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kGeneratedKeyBytes = 32;  // what IoT Hub generates for a device

std::string client_of(const std::string& device, const std::string& module) {
  return module.empty() ? device : device + "/" + module;
}

std::string absolute(const std::string& path) {
  std::error_code ec;
  auto p = fs::absolute(path, ec).lexically_normal();
  if (ec) return path;
  if (!p.has_filename() && p.has_parent_path()) p = p.parent_path();  // "keys/" → "keys"
  return p.string();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
}

// Loads with `files` as identities.d and also reads every key, as the daemon's reload does, so a
// malformed key is refused here rather than by the daemon.
config::LoadResult check(const IdentityPlace& place, std::vector<std::string> files) {
  config::LoadOptions options;
  options.identity_files = std::move(files);
  auto loaded = place.load(options);
  if (loaded.config && !IdentityMap::build(loaded.config->identities, loaded.diagnostics)) {
    loaded.config.reset();
  }
  return loaded;
}

std::vector<std::string> diagnostics_text(const Diagnostics& d, const std::string& staged = {},
                                          const std::string& final_path = {}) {
  std::vector<std::string> out;
  for (const auto& item : d.items()) {
    auto line = item.to_string();
    if (!staged.empty()) replace_all(line, staged, final_path);
    out.push_back(std::move(line));
  }
  return out;
}

// An edit starts from a config that loads; otherwise the reason goes into `result`.
bool loads(const config::LoadResult& current, EditResult& result) {
  if (current.config) return true;
  result.errors.push_back(
      "the current configuration does not load; fix it first (fieldlinkctl check-config):");
  for (auto& e : diagnostics_text(current.diagnostics))
    result.errors.push_back("  " + e);
  return false;
}

// The whole config with `files` as identities.d, as the daemon would load it. On failure the
// refusal and every diagnostic go into `result` (a staged temp file named as its final path).
bool passes_full_check(const IdentityPlace& place, std::vector<std::string> files,
                       const std::string& edit, EditResult& result, const std::string& staged = {},
                       const std::string& final_path = {}) {
  const auto checked = check(place, std::move(files));
  if (checked.config) return true;
  result.errors.push_back("the configuration " + edit + " would not load; nothing was changed:");
  for (auto& e : diagnostics_text(checked.diagnostics, staged, final_path))
    result.errors.push_back("  " + e);
  return false;
}

// The request against the running config: syntax, uniqueness, the credential's arguments.
std::vector<std::string> precheck(const config::Config& current, const AddRequest& r,
                                  std::vector<std::string>& warnings) {
  std::vector<std::string> errors;
  const auto source = SourceAddress::parse(r.source);
  const bool wildcard = r.source.find('+') != std::string::npos;
  if (!source) {
    errors.push_back("--source '" + r.source +
                     "' is not a source address like modbus://<adapter>/<unit>, "
                     "mqtt://<adapter>/<device-key> or mqtt://<adapter>/+");
  } else {
    bool adapter_known = false;
    for (const auto& a : current.adapters)
      adapter_known = adapter_known || a.name.str() == source->adapter();
    if (!adapter_known) {
      warnings.push_back(
          "--source names adapter '" + std::string(source->adapter()) +
          "', which the configuration does not define (yet); its readings will flow once it does");
    }
  }
  // Templates ({1}) stand for matched levels; check the rest of the id's characters.
  std::string literal = r.device_id;
  for (char n = '1'; n <= '9'; ++n)
    replace_all(literal, std::string("{") + n + "}", "x");
  if (!config::valid_hub_id(literal)) {
    errors.push_back("--device-id '" + r.device_id +
                     "' is not a valid IoT Hub device id (up to 128 of: letters, digits, "
                     "-.%_*?!(),:=@$')");
  }
  if (!r.module_id.empty() && !config::valid_hub_id(r.module_id)) {
    errors.push_back("--module-id '" + r.module_id + "' is not a valid IoT Hub module id");
  }
  if (wildcard != (r.kind == CredentialKind::group)) {
    errors.push_back(wildcard ? "a wildcard source (+) needs --group-key-file: each device's key "
                                "is derived from the group key"
                              : "--group-key-file is for wildcard sources (mqtt://<adapter>/+)");
  }
  const auto client = client_of(r.device_id, r.module_id);
  for (const auto& b : current.identities) {
    const auto at = b.where.file + ":" + std::to_string(b.where.line);
    if (b.source == r.source)
      errors.push_back("source '" + r.source + "' is already bound at " + at);
    if (client_of(b.device_id, b.module_id) == client) {
      errors.push_back("identity '" + client + "' is already bound at " + at);
    }
  }
  switch (r.kind) {
    case CredentialKind::none:
      errors.push_back(
          "give one credential: --key, --key-file, --generate-key, --cert-file with "
          "--key-file, or --group-key-file");
      break;
    case CredentialKind::key: {
      const auto raw = base64_decode(r.key_base64);
      if (!raw || raw->size() < 16) {
        errors.push_back("--key is not a base64 symmetric key of at least 16 bytes");
      }
      break;
    }
    default:
      break;
  }
  return errors;
}

}  // namespace

std::string identities_dir(const std::string& config_path) {
  return (fs::path(config_path).parent_path() / config::kIdentitiesD).string();
}

EditResult add_identity(const IdentityPlace& place, const AddRequest& r) {
  EditResult result;
  std::string lock_error;
  const EditLock lock(fs::path(place.config_path).parent_path().string(), lock_error);
  if (!lock_error.empty()) {
    result.errors.push_back(lock_error);
    return result;
  }
  const auto current = place.load({});
  if (!loads(current, result)) return result;
  result.errors = precheck(*current.config, r, result.warnings);
  if (!result.errors.empty()) return result;

  const auto dir = identities_dir(place.config_path);
  const auto file = (fs::path(dir) / identity_file_name(r.device_id, r.module_id)).string();
  std::error_code ec;
  if (fs::exists(file, ec)) {
    result.errors.push_back(file + " already exists; remove it first");
    return result;
  }

  BindingText text{r.source, r.device_id, r.module_id, {}, {}, {}, {}};
  std::string key_content;
  switch (r.kind) {
    case CredentialKind::key:
      key_content = r.key_base64;
      break;
    case CredentialKind::generate:
      key_content = base64_encode(place.random_bytes(kGeneratedKeyBytes));
      break;
    case CredentialKind::key_file:
      text.key_file = absolute(r.key_file);
      break;
    case CredentialKind::x509:
      text.cert_file = absolute(r.cert_file);
      text.key_file = absolute(r.key_file);
      break;
    case CredentialKind::group:
      text.group_key_file = absolute(r.group_key_file);
      break;
    case CredentialKind::none:
      break;
  }
  // Folders made here are removed again if the edit is refused (rmdir: only while empty).
  std::vector<std::string> made;
  auto undo_dirs = [&] {
    for (auto it = made.rbegin(); it != made.rend(); ++it)
      ::rmdir(it->c_str());
  };
  if (!fs::is_directory(dir, ec)) made.push_back(dir);
  if (auto why = ensure_dir(dir, 0755); !why.empty()) {
    result.errors.push_back(why);
    return result;
  }
  std::string written_key;
  if (!key_content.empty()) {
    if (!fs::is_directory(place.keys_dir, ec)) made.push_back(place.keys_dir);
    if (auto why = ensure_dir(place.keys_dir, 0700); !why.empty()) {
      undo_dirs();
      result.errors.push_back(why);
      return result;
    }
    written_key =
        absolute((fs::path(place.keys_dir) / key_file_name(r.device_id, r.module_id)).string());
    if (auto why = write_new_file(written_key, key_content + "\n", 0600); !why.empty()) {
      undo_dirs();
      result.errors.push_back(why);
      return result;
    }
    text.key_file = written_key;
    text.created_key_file = written_key;
  }
  auto undo_key = [&] {
    if (!written_key.empty()) ::unlink(written_key.c_str());
    undo_dirs();
  };

  std::string error;
  const auto staged = write_temp_file(dir, identity_file_name(r.device_id, r.module_id),
                                      identity_file_text(text), 0644, error);
  if (staged.empty()) {
    undo_key();
    result.errors.push_back(error);
    return result;
  }
  auto files = config::identity_d_files(place.config_path);
  files.push_back(staged);
  if (!passes_full_check(place, std::move(files), "with this binding", result, staged, file)) {
    ::unlink(staged.c_str());
    undo_key();
    return result;
  }
  if (auto why = commit_temp_file(staged, file); !why.empty()) {
    undo_key();
    result.errors.push_back(why);
    return result;
  }
  result.ok = true;
  result.file = file;
  result.key_file = written_key;
  if (r.kind == CredentialKind::generate) result.generated_key = key_content;
  return result;
}

EditResult remove_identity(const IdentityPlace& place, const std::string& device_id,
                           const std::string& module_id) {
  EditResult result;
  std::string lock_error;
  const EditLock lock(fs::path(place.config_path).parent_path().string(), lock_error);
  if (!lock_error.empty()) {
    result.errors.push_back(lock_error);
    return result;
  }
  const auto current = place.load({});
  if (!loads(current, result)) return result;
  const config::IdentityBinding* found = nullptr;
  const auto client = client_of(device_id, module_id);
  for (const auto& b : current.config->identities) {
    if (client_of(b.device_id, b.module_id) == client) found = &b;
  }
  if (found == nullptr) {
    result.errors.push_back("no binding for identity '" + client +
                            "' (see fieldlinkctl identity list)");
    return result;
  }
  const auto file = found->where.file;
  const auto at = file + ":" + std::to_string(found->where.line);
  const auto dir = identities_dir(place.config_path);
  const auto marker = read_marker(read_text(file));
  std::size_t in_file = 0;
  for (const auto& b : current.config->identities)
    in_file += b.where.file == file ? 1 : 0;
  if (fs::path(file).parent_path() != fs::path(dir) || !marker.written_by_ctl || in_file != 1) {
    result.errors.push_back("'" + client + "' is bound at " + at +
                            ", which fieldlinkctl did not write; edit that file by hand "
                            "(fieldlinkctl only removes the files `identity add` wrote)");
    return result;
  }
  auto files = config::identity_d_files(place.config_path);
  std::erase(files, file);
  if (!passes_full_check(place, std::move(files), "without this binding", result)) return result;
  if (::unlink(file.c_str()) != 0) {
    result.errors.push_back("cannot remove " + file + ": " + std::strerror(errno));
    return result;
  }
  result.ok = true;
  result.file = file;
  // Only the key that `add` created, and only if it is still in the keys folder it was made in.
  const auto& key = marker.created_key_file;
  if (!key.empty() && key == found->key_file.path &&
      fs::path(key).parent_path() == fs::path(absolute(place.keys_dir))) {
    if (::unlink(key.c_str()) == 0) result.key_file = key;
  }
  return result;
}

}  // namespace fieldlink::ctl
