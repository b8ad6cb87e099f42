#pragma once
// The validated, typed configuration (design.md §6). Built only by `load_config`, so a Config
// that exists is one that passed every check. Immutable once built; a reload builds a new one.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "config/value_types.hpp"
#include "core/adapter_registry.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"

namespace fieldlink::config {

enum class HubMode { per_device, gateway };
enum class OnFull { drop_oldest, reject_new };
enum class SyncMode { normal, full };
enum class UnknownSources { reject, gateway };

// A file the operator names; resolved against the config file's directory when relative.
struct FilePath {
  std::string path;
  friend bool operator==(const FilePath&, const FilePath&) = default;
};
// A secret (key) file: must exist and must not be readable by group or others.
struct SecretFile {
  std::string path;
  friend bool operator==(const SecretFile&, const SecretFile&) = default;
};

struct GatewayConfig {
  std::string name;
  FilePath state_dir;
  std::string identity;
};

struct LogConfig {
  LogLevel level = LogLevel::info;
  Rate rate_limit;
};

struct HubConfig {
  std::string host;
  std::string gateway_host;
  std::int64_t port = 0;
  FilePath ca_file;
  HubMode mode = HubMode::per_device;
  Duration token_ttl{};
  Rate connect_rate;
  Rate send_rate;
  Duration keepalive{};
  std::int64_t inflight = 0;
  Duration method_timeout{};
  Duration stall_timeout{};
};

struct StoreConfig {
  ByteSize max_size;
  ByteSize min_free;
  Duration max_age{};
  OnFull on_full = OnFull::drop_oldest;
  SyncMode sync = SyncMode::normal;
  Duration commit_interval{};
};

struct StatusConfig {
  ListenAddress listen;
};

// control.listen: the local control socket (fieldlinkctl invoke / send-c2d) is off unless a
// unix socket path is given. Never TCP: unlike the read-only status page, it reaches devices.
struct ControlListen {
  std::string path;  // empty: off

  bool on() const { return !path.empty(); }
  friend bool operator==(const ControlListen&, const ControlListen&) = default;
};

struct ControlConfig {
  ControlListen listen;
};

// One `identities[]` entry: a source (or a wildcard family of sources) bound to a hub identity.
struct IdentityBinding {
  std::string source;  // a SourceAddress, or a pattern with `+` levels
  std::string device_id;
  std::string module_id;
  SecretFile key_file;
  FilePath cert_file;
  SecretFile group_key_file;
  Location where;
};

struct AdapterConfig {
  AdapterName name;
  std::string type;
  std::shared_ptr<const AdapterSettings> settings;
  Location where;
  // The entry's keys and values in a canonical text: equal fingerprints mean an unchanged
  // adapter, which a reload leaves running.
  std::string fingerprint;
};

struct Config {
  GatewayConfig gateway;
  LogConfig log;
  HubConfig hub;
  StoreConfig store;
  StatusConfig status;
  ControlConfig control;
  std::vector<IdentityBinding> identities;
  UnknownSources unknown_sources = UnknownSources::reject;
  std::vector<AdapterConfig> adapters;

  std::vector<std::string> files;  // the main file, then conf.d files in merge order
};

}  // namespace fieldlink::config
