#pragma once
// The adapter types this build knows, listed explicitly in adapters/builtin.cpp (no static
// self-registration, so what is built in is visible in one place and in --version).
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/adapter.hpp"
#include "core/config_node.hpp"
#include "core/diagnostics.hpp"

namespace fieldlink {

// An adapter's validated, typed settings; each adapter type derives its own.
struct AdapterSettings {
  virtual ~AdapterSettings() = default;
  AdapterName name;
};

struct AdapterType {
  std::string type;  // the `type:` value in the config, e.g. "modbus-tcp"
  std::string description;
  // Validates one `adapters[]` entry; returns nullptr after adding diagnostics when it is wrong.
  std::function<std::shared_ptr<const AdapterSettings>(const ConfigNode&, const std::string& path,
                                                       Diagnostics&)>
      parse;
  std::function<std::unique_ptr<Adapter>(AdapterContext, std::shared_ptr<const AdapterSettings>)>
      create;
  // This type's keys as a Markdown table (with header), for --print-schema and the operator docs.
  std::function<std::string()> reference;
};

class AdapterRegistry {
 public:
  explicit AdapterRegistry(std::vector<AdapterType> types) : types_(std::move(types)) {}

  const AdapterType* find(std::string_view type) const;
  // "modbus-tcp, modbus-rtu" or "none" — for error messages and --version.
  std::string type_list() const;
  const std::vector<AdapterType>& types() const { return types_; }

 private:
  std::vector<AdapterType> types_;
};

}  // namespace fieldlink
