#pragma once
// `fieldlinkctl identity add|remove`: edits identities.d beside the main config, one file per
// binding, and never leaves a config that does not load. Each edit is checked against the whole
// loaded config first (unique source and identity, source syntax, hub id charset), then staged
// (a temp file no loader reads), the full config check runs on the staged result, and only then
// is it committed (link into place). A refused edit leaves every file as it was.
//
// One file per binding rather than one managed file: adding or removing one identity touches
// only its own file (no rewrite of a file other bindings or an operator's comments live in),
// each commit is one atomic link/unlink, and a file's presence is the binding's presence.
//
// Loading goes through an injected function so tests can use an empty adapter registry; key
// generation takes injected random bytes.
// Thread: the caller's; touches only the config folder and the keys folder.
#include <functional>
#include <string>
#include <vector>

#include "config/loader.hpp"

namespace fieldlink::ctl {

struct IdentityPlace {
  std::string config_path;  // the main config file; identities.d is beside it
  std::string keys_dir;     // where generated or given keys are written (made 0700)
  std::function<config::LoadResult(const config::LoadOptions&)> load;
  std::function<std::string(std::size_t)> random_bytes;  // cryptographic, for --generate-key
};

enum class CredentialKind { none, key, key_file, generate, x509, group };

struct AddRequest {
  std::string source;
  std::string device_id;
  std::string module_id;
  CredentialKind kind = CredentialKind::none;
  std::string key_base64;      // kind key
  std::string key_file;        // kind key_file, or the private key of x509
  std::string cert_file;       // kind x509
  std::string group_key_file;  // kind group
};

struct EditResult {
  bool ok = false;
  std::vector<std::string> errors;  // sentences, or file:line:col diagnostics
  std::vector<std::string> warnings;
  std::string file;           // the identities.d file written or removed
  std::string key_file;       // the key file written or removed, if any
  std::string generated_key;  // base64, only for kind generate; the caller decides to show
};

EditResult add_identity(const IdentityPlace& place, const AddRequest& request);
EditResult remove_identity(const IdentityPlace& place, const std::string& device_id,
                           const std::string& module_id);

// The identities.d folder of a main config file.
std::string identities_dir(const std::string& config_path);

}  // namespace fieldlink::ctl
