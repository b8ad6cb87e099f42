// `identity list|show|add|remove`: the bindings of sources to hub identities.
#include <openssl/rand.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <stdexcept>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "identity_editor.hpp"
#include "local_daemon.hpp"
#include "session_match.hpp"
#include "text_table.hpp"

namespace fieldlink::ctl {
namespace {

using nlohmann::json;

std::string client_of(const config::IdentityBinding& b) {
  return b.module_id.empty() ? b.device_id : b.device_id + "/" + b.module_id;
}

std::string credential_text(const config::IdentityBinding& b) {
  if (!b.group_key_file.path.empty()) return "group key " + b.group_key_file.path;
  if (!b.cert_file.path.empty()) return "X.509 " + b.cert_file.path;
  return "SAS key " + b.key_file.path;
}

std::string place_of(const config::IdentityBinding& b) {
  return b.where.file + ":" + std::to_string(b.where.line);
}

// What /status says of the binding's session(s); `doc` null when the daemon is unreachable.
std::string session_text(const config::IdentityBinding& b, const json* doc) {
  if (doc == nullptr) return "? (daemon not reachable)";
  const auto summary = sessions_for(client_of(b), (*doc).value("sessions", json::array()));
  if (summary.total == 0) return "no session";
  if (summary.total == 1 && !summary.single_state.empty()) return summary.single_state;
  return std::to_string(summary.total) + " sessions, " + std::to_string(summary.online) + " online";
}

std::optional<json> status_quietly(LocalDaemon& daemon) {
  std::string ignored;
  return daemon.status(ignored);
}

int need_config(LocalDaemon& daemon) {
  std::fprintf(stderr, "fieldlinkctl: %s does not load:\n%s", daemon.config_path().c_str(),
               daemon.diagnostics().to_string().c_str());
  return kExitFailed;
}

int list(const Words& words) {
  const auto parsed = parse_args(words, with_common_options({}));
  if (!parsed.error.empty()) return usage_error(parsed.error);
  LocalDaemon daemon(parsed.args);
  const auto* c = daemon.config();
  if (c == nullptr) return need_config(daemon);
  const auto doc = status_quietly(daemon);
  if (c->identities.empty()) {
    std::puts("no identities bound (fieldlinkctl identity add)");
    return kExitOk;
  }
  TextTable t({"IDENTITY", "SOURCE", "CREDENTIAL", "DEFINED AT", "SESSION"});
  for (const auto& b : c->identities) {
    t.add({client_of(b), b.source, credential_text(b), place_of(b),
           session_text(b, doc ? &*doc : nullptr)});
  }
  std::fputs(t.text().c_str(), stdout);
  return kExitOk;
}

int show(const Words& words) {
  const auto parsed = parse_args(words, with_common_options({{"--module-id", true}}));
  if (!parsed.error.empty()) return usage_error(parsed.error);
  if (parsed.args.positional.size() != 1) return usage_error("identity show takes one device id");
  LocalDaemon daemon(parsed.args);
  const auto* c = daemon.config();
  if (c == nullptr) return need_config(daemon);
  const auto module = parsed.args.value("--module-id").value_or("");
  const auto& device = parsed.args.positional[0];
  for (const auto& b : c->identities) {
    if (b.device_id != device || b.module_id != module) continue;
    const auto doc = status_quietly(daemon);
    std::printf("identity    %s\nsource      %s\ncredential  %s\ndefined at  %s\nsession     %s\n",
                client_of(b).c_str(), b.source.c_str(), credential_text(b).c_str(),
                place_of(b).c_str(), session_text(b, doc ? &*doc : nullptr).c_str());
    if (doc) {
      for (const auto& s : doc->value("sessions", json::array())) {
        if (!session_belongs(client_of(b), s.value("identity", ""))) continue;
        std::printf("  %s  %s since %s  sent %s  acked %s  reconnects %s%s\n",
                    s.value("identity", "?").c_str(), s.value("state", "?").c_str(),
                    s.value("since", "?").c_str(), s.value("sent", json()).dump().c_str(),
                    s.value("acked", json()).dump().c_str(),
                    s.value("reconnects", json()).dump().c_str(),
                    s.value("last_error", "").empty()
                        ? ""
                        : ("  last error: " + s.value("last_error", "")).c_str());
      }
    }
    return kExitOk;
  }
  std::fprintf(stderr,
               "fieldlinkctl: no binding for identity '%s%s' (fieldlinkctl identity list)\n",
               device.c_str(), module.empty() ? "" : ("/" + module).c_str());
  return kExitFailed;
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("the system's random number generator failed");
  }
  return out;
}

IdentityPlace place_for(LocalDaemon& daemon, const ParsedArgs& args) {
  IdentityPlace place;
  place.config_path = daemon.config_path();
  place.keys_dir =
      args.value("--keys-dir")
          .value_or((std::filesystem::path(daemon.config_path()).parent_path() / "keys").string());
  place.load = [&daemon](const config::LoadOptions& o) { return daemon.load(o); };
  place.random_bytes = random_bytes;
  return place;
}

// After a committed edit: reload unless told not to; an unreachable daemon is not a failure of
// the edit (it takes effect when the daemon starts).
int tell_daemon(LocalDaemon& daemon, const ParsedArgs& args) {
  if (args.has("--no-reload")) {
    std::puts("not reloaded (--no-reload); run `fieldlinkctl reload` to apply");
    return kExitOk;
  }
  const auto outcome = daemon.reload(std::chrono::seconds(10));
  if (outcome.result == ReloadResult::unreachable) {
    std::fprintf(stderr, "fieldlinkctl: the change is saved but fieldlinkd was not told:\n%s",
                 outcome.message.c_str());
    std::fputs("  it takes effect when fieldlinkd starts\n", stderr);
    return kExitOk;
  }
  print_reload_outcome(outcome);
  return exit_code_of(outcome);
}

int print_edit_errors(const EditResult& r) {
  std::fputs("fieldlinkctl: nothing changed:\n", stderr);
  for (const auto& e : r.errors)
    std::fprintf(stderr, "  %s\n", e.c_str());
  return kExitFailed;
}

int add(const Words& words) {
  const auto parsed = parse_args(words, with_common_options({{"--source", true},
                                                             {"--device-id", true},
                                                             {"--module-id", true},
                                                             {"--key", true},
                                                             {"--key-file", true},
                                                             {"--generate-key", false},
                                                             {"--show-key", false},
                                                             {"--cert-file", true},
                                                             {"--group-key-file", true},
                                                             {"--keys-dir", true},
                                                             {"--no-reload", false}}));
  if (!parsed.error.empty()) return usage_error(parsed.error);
  const auto& a = parsed.args;
  if (!a.positional.empty()) return usage_error("identity add takes options only");
  if (!a.has("--source") || !a.has("--device-id")) {
    return usage_error("identity add needs --source and --device-id");
  }
  AddRequest r;
  r.source = *a.value("--source");
  r.device_id = *a.value("--device-id");
  r.module_id = a.value("--module-id").value_or("");
  const int given = static_cast<int>(a.has("--key")) + static_cast<int>(a.has("--generate-key")) +
                    static_cast<int>(a.has("--group-key-file")) +
                    static_cast<int>(a.has("--key-file") || a.has("--cert-file"));
  if (given != 1) {
    return usage_error(
        "give exactly one credential: --key B64, --key-file F, --generate-key, "
        "--cert-file C --key-file K, or --group-key-file G");
  }
  if (a.has("--show-key") && !a.has("--generate-key")) {
    return usage_error("--show-key goes with --generate-key");
  }
  if (a.has("--key")) {
    r.kind = CredentialKind::key;
    r.key_base64 = *a.value("--key");
    // `--key -` reads it from stdin, which keeps it out of the process list and shell history.
    if (r.key_base64 == "-" && !std::getline(std::cin, r.key_base64)) {
      return usage_error("--key -: nothing to read on stdin");
    }
  } else if (a.has("--generate-key")) {
    r.kind = CredentialKind::generate;
  } else if (a.has("--group-key-file")) {
    r.kind = CredentialKind::group;
    r.group_key_file = *a.value("--group-key-file");
  } else if (a.has("--cert-file")) {
    if (!a.has("--key-file")) return usage_error("--cert-file needs --key-file (its private key)");
    r.kind = CredentialKind::x509;
    r.cert_file = *a.value("--cert-file");
    r.key_file = *a.value("--key-file");
  } else {
    r.kind = CredentialKind::key_file;
    r.key_file = *a.value("--key-file");
  }
  LocalDaemon daemon(a);
  const auto result = add_identity(place_for(daemon, a), r);
  for (const auto& w : result.warnings)
    std::fprintf(stderr, "fieldlinkctl: warning: %s\n", w.c_str());
  if (!result.ok) return print_edit_errors(result);
  std::fprintf(stderr, "added %s → %s in %s%s%s\n", r.source.c_str(),
               (r.module_id.empty() ? r.device_id : r.device_id + "/" + r.module_id).c_str(),
               result.file.c_str(), result.key_file.empty() ? "" : "; key in ",
               result.key_file.c_str());
  // The generated key is shown once, alone on stdout, only when asked: it is what the operator
  // registers in the hub, and by default it stays out of terminals and logs.
  if (a.has("--show-key")) std::printf("%s\n", result.generated_key.c_str());
  return tell_daemon(daemon, a);
}

int remove(const Words& words) {
  const auto parsed = parse_args(
      words,
      with_common_options({{"--module-id", true}, {"--keys-dir", true}, {"--no-reload", false}}));
  if (!parsed.error.empty()) return usage_error(parsed.error);
  if (parsed.args.positional.size() != 1) return usage_error("identity remove takes one device id");
  LocalDaemon daemon(parsed.args);
  const auto result = remove_identity(place_for(daemon, parsed.args), parsed.args.positional[0],
                                      parsed.args.value("--module-id").value_or(""));
  if (!result.ok) return print_edit_errors(result);
  std::fprintf(stderr, "removed %s%s%s\n", result.file.c_str(),
               result.key_file.empty() ? "" : " and its key ", result.key_file.c_str());
  return tell_daemon(daemon, parsed.args);
}

}  // namespace

int run_identity(const Words& words) {
  if (words.empty()) return usage_error("identity needs list, show, add or remove");
  const Words rest(words.begin() + 1, words.end());
  if (words[0] == "list") return list(rest);
  if (words[0] == "show") return show(rest);
  if (words[0] == "add") return add(rest);
  if (words[0] == "remove") return remove(rest);
  return usage_error("unknown identity command '" + words[0] + "'");
}

}  // namespace fieldlink::ctl
