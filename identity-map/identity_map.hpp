#pragma once
// Who is who (design.md §3): source addresses of field devices ↔ hub identities and their
// credentials. Built from the config's `identities:` and never changed afterwards; a reload builds
// a new map and swaps it, so a lookup never sees half an update.
// Thread: built anywhere; used on the core loop.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/diagnostics.hpp"
#include "core/ids.hpp"

namespace fieldlink {

// The credential a session presents. Keys are held here and in the session, never in a Message.
struct Credential {
  std::string sas_key;    // base64 symmetric key (given, or derived from a group key)
  std::string cert_file;  // X.509: client certificate and its private key
  std::string key_file;

  bool x509() const { return !cert_file.empty(); }
  friend bool operator==(const Credential&, const Credential&) = default;
};

struct Binding {
  Identity identity;
  Credential credential;
  friend bool operator==(const Binding&, const Binding&) = default;
};

class IdentityMap {
 public:
  // Reads key files and derives group keys. Problems (an unreadable or malformed key) are added
  // to `diagnostics` at the binding's position and the map is not built.
  static std::shared_ptr<const IdentityMap> build(
      const std::vector<config::IdentityBinding>& bindings, Diagnostics& diagnostics);

  // The identity bound to a source: an exact binding first, else the first wildcard pattern that
  // matches (its `{n}` filled from the matched levels, its key derived for that device id).
  std::optional<Binding> resolve(const SourceAddress& source) const;
  // The source a hub identity stands for (for downlink). For a wildcard family the device id is
  // read back through its template: plant-{1} and plant-s1 give the source mqtt://plant/s1.
  std::optional<SourceAddress> source_of(const Identity& identity) const;
  // The bindings that name one device (no wildcards): these sessions exist from the start.
  std::vector<Binding> fixed() const;

 private:
  struct Entry {
    std::string pattern;          // the source, possibly with `+` levels
    std::string device_template;  // device id, possibly with {1}, {2}…
    std::string module_id;
    Credential credential;  // for a wildcard: the group key in sas_key
    bool wildcard = false;
    bool derive = false;  // sas_key is a group key to derive from
  };
  std::vector<Entry> entries_;
};

// A device key derived from a group key as DPS group enrollment does it:
// base64(HMAC-SHA256(base64decode(group_key), device_id)).
std::string derive_device_key(std::string_view base64_group_key, std::string_view device_id);

// Matches `source` against a pattern whose levels may be `+`; the matched levels, or nullopt.
std::optional<std::vector<std::string>> match_source(std::string_view pattern,
                                                     std::string_view source);

}  // namespace fieldlink
