#pragma once
// Errors that point at a place in an operator's file: `file:line:column: key.path: what is wrong`.
// Collected, never thrown one at a time, so an operator sees every mistake in one pass.
#include <string>
#include <vector>

namespace fieldlink {

struct Location {
  std::string file;
  int line = 0;    // 1-based; 0 when the problem is the file as a whole
  int column = 0;  // 1-based
};

struct Diagnostic {
  Location where;
  std::string key_path;  // e.g. "hub.token_ttl" or "adapters[2].port"; may be empty
  std::string message;

  std::string to_string() const;
};

class Diagnostics {
 public:
  void add(Location where, std::string key_path, std::string message);
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  const std::vector<Diagnostic>& items() const { return items_; }
  // Sorted by file, line and column, one per line; what --check-config prints.
  std::string to_string() const;

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace fieldlink
