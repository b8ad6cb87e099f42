#include "local_daemon.hpp"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <thread>

#include "adapters/builtin.hpp"
#include "config/yaml_tree.hpp"
#include "control_call.hpp"
#include "daemon_endpoint.hpp"
#include "exit_codes.hpp"
#include "identity-map/checked_config.hpp"
#include "status_client.hpp"

namespace fieldlink::ctl {
namespace {

// SECTION.listen read from the YAML alone (main file, then conf.d), for when the config does not
// validate: that is exactly when `reload` must still reach the daemon to show its verdict.
const ConfigNode* raw_listen_node(const ConfigNode& root, const char* section) {
  const auto* node = root.find(section);
  const auto* listen = node ? node->find("listen") : nullptr;
  if (listen == nullptr || listen->kind != ConfigNode::Kind::scalar) return nullptr;
  return listen;
}

ConfigNode raw_config(const std::string& config_path) {
  Diagnostics ignored;
  auto root = config::read_yaml_file(config_path, ignored);
  std::vector<std::string> extra;
  std::error_code ec;
  const auto conf_d = std::filesystem::path(config_path).parent_path() / "conf.d";
  for (const auto& e : std::filesystem::directory_iterator(conf_d, ec)) {
    if (e.path().extension() == ".yaml") extra.push_back(e.path().string());
  }
  std::sort(extra.begin(), extra.end());
  for (const auto& f : extra)
    config::merge_into(root, config::read_yaml_file(f, ignored));
  return root;
}

std::optional<config::ListenAddress> raw_listen(const std::string& config_path) {
  const auto root = raw_config(config_path);
  const auto* listen = raw_listen_node(root, "status");
  if (listen == nullptr) return std::nullopt;
  auto parsed = config::parse_listen(listen->scalar);
  return parsed.value ? std::optional<config::ListenAddress>(*parsed.value) : std::nullopt;
}

// control.listen is off unless it names a unix socket; the daemon's own check refuses the rest.
config::ControlListen raw_control(const std::string& config_path) {
  const auto root = raw_config(config_path);
  const auto* listen = raw_listen_node(root, "control");
  if (listen == nullptr || !listen->scalar.starts_with("unix:/")) return {};
  return config::ControlListen{listen->scalar.substr(5)};
}

}  // namespace

std::vector<OptionSpec> with_common_options(std::vector<OptionSpec> specific) {
  specific.push_back({"--config", true});
  specific.push_back({"--url", true});
  return specific;
}

LocalDaemon::LocalDaemon(const ParsedArgs& args)
    : config_path_(args.value("--config").value_or(kDefaultConfig)), url_(args.value("--url")) {}

config::LoadResult LocalDaemon::load(const config::LoadOptions& options) const {
  return load_checked_config(config_path_, builtin_adapters(), options);
}

const config::Config* LocalDaemon::config() {
  if (!loaded_once_) {
    loaded_ = load({});
    loaded_once_ = true;
  }
  return loaded_.config.get();
}

std::string LocalDaemon::url() {
  if (url_) return *url_;
  std::optional<config::ListenAddress> listen;
  if (const auto* c = config()) {
    listen = c->status.listen;
  } else {
    listen = raw_listen(config_path_);
  }
  if (!listen) {
    url_note_ = config_path_ +
                " does not load (see fieldlinkctl check-config) and names no readable "
                "status.listen; tried the default";
    return kDefaultUrl;
  }
  std::string error;
  auto found = url_from_listen(*listen, error);
  if (!found.empty()) return found;
  url_note_ = error;
  return kDefaultUrl;
}

std::optional<nlohmann::json> LocalDaemon::status(std::string& message) {
  const auto where = url();
  const auto reply = http_get(where, "/status");
  if (!reply.error.empty()) {
    message = unreachable_message(where, reply.error);
    if (!url_note_.empty()) message += "  note: " + url_note_ + "\n";
    return std::nullopt;
  }
  if (reply.status != 200) {
    message = where + "/status answered HTTP " + std::to_string(reply.status) + "\n";
    return std::nullopt;
  }
  auto doc = nlohmann::json::parse(reply.body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    message = where + "/status did not answer a JSON object; is that fieldlinkd?\n";
    return std::nullopt;
  }
  return doc;
}

void LocalDaemon::warn_if_other_config(const nlohmann::json& status) const {
  if (!status.contains("config") || !status["config"].is_object()) return;
  const auto running = status["config"].value("file", std::string());
  std::error_code ec;
  if (running.empty() || !std::filesystem::path(running).is_absolute()) return;
  if (std::filesystem::equivalent(running, config_path_, ec) || ec) return;
  std::fprintf(stderr, "fieldlinkctl: warning: fieldlinkd runs %s, not %s\n", running.c_str(),
               config_path_.c_str());
}

ReloadOutcome LocalDaemon::reload(std::chrono::milliseconds timeout) {
  ReloadPort port;
  bool checked = false;
  port.fetch = [this, &checked](std::string& error) {
    auto doc = status(error);
    if (doc && !std::exchange(checked, true)) warn_if_other_config(*doc);
    return doc;
  };
  port.hangup = [](long pid) -> std::string {
    if (::kill(static_cast<pid_t>(pid), SIGHUP) == 0) return {};
    return errno == EPERM ? std::string("permission denied (run as root or as the fieldlink user)")
                          : std::string(std::strerror(errno));
  };
  port.pause = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  port.now = [] { return std::chrono::steady_clock::now(); };
  return reload_and_wait(port, timeout);
}

std::optional<std::string> LocalDaemon::control_url(std::string& message) {
  const auto* c = config();
  const auto listen = c ? c->control.listen : raw_control(config_path_);
  auto found = ctl::control_url(listen);
  if (!found) message = control_off_message(config_path_);
  return found;
}

void print_reload_outcome(const ReloadOutcome& outcome) {
  if (outcome.result == ReloadResult::reloaded) {
    std::printf("%s\n", outcome.message.c_str());
    return;
  }
  std::fprintf(stderr, "fieldlinkctl: %s", outcome.message.c_str());
  if (!outcome.message.ends_with('\n')) std::fputc('\n', stderr);
  for (const auto& e : outcome.errors)
    std::fprintf(stderr, "  %s\n", e.c_str());
}

int exit_code_of(const ReloadOutcome& outcome) {
  switch (outcome.result) {
    case ReloadResult::reloaded:
      return kExitOk;
    case ReloadResult::unreachable:
      return kExitUnreachable;
    default:
      return kExitFailed;
  }
}

}  // namespace fieldlink::ctl
