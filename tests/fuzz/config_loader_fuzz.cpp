// libFuzzer target: YAML text → load_config with every built-in adapter type. Any input must
// come back as a config or as diagnostics, never as a crash, hang or sanitizer report.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "adapters/builtin.hpp"
#include "config/loader.hpp"

namespace {

// The loader takes a path (it also reads conf.d/ beside it), so each input is written to one
// file in a private directory made once per process.
const std::string& config_path() {
  static const std::string path = [] {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "fieldlink-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    return pattern + "/fieldlink.yaml";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto adapters = fieldlink::builtin_adapters();
  {
    std::ofstream out(config_path(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  const auto result = fieldlink::config::load_config(config_path(), adapters);
  // Exactly one of the two: a config, or the reasons there is none.
  if ((result.config == nullptr) == result.diagnostics.empty()) std::abort();
  return 0;
}
