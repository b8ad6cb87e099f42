// The table of invalid configurations: each case under tests/data/configs/invalid/ is a YAML file
// (or a folder with fieldlink.yaml, conf.d/ and key files) next to NAME.expected, which holds the
// exact diagnostics, paths relative to the case. A case runs on a copy in a temp folder so that
// key-file modes can be set as the case needs: *.key files become 0600, except those whose name
// says "world-readable" (0644) — git does not keep file modes. Adapter entries are checked by the
// built-in adapter types.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "adapters/builtin.hpp"
#include "config/loader.hpp"
#include "config_test_support.hpp"

namespace fieldlink::config {
namespace {

namespace fs = std::filesystem;

const fs::path kCases = fs::path(FIELDLINK_TEST_DATA) / "configs" / "invalid";

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kCases)) {
    if (e.path().extension() == ".expected") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class InvalidConfig : public ::testing::TestWithParam<std::string> {};

TEST_P(InvalidConfig, ReportsExactlyTheExpectedDiagnostics) {
  const auto& name = GetParam();
  fieldlink::testing::TempDir tmp;
  fs::path main;
  if (fs::is_directory(kCases / name)) {
    fs::copy(kCases / name, tmp.path(), fs::copy_options::recursive);
    main = tmp.path() / "fieldlink.yaml";
  } else {
    fs::copy(kCases / (name + ".yaml"), tmp.path() / (name + ".yaml"));
    main = tmp.path() / (name + ".yaml");
  }
  for (const auto& e : fs::recursive_directory_iterator(tmp.path())) {
    if (e.path().extension() == ".key") {
      const bool open = e.path().filename().string().find("world-readable") != std::string::npos;
      fs::permissions(e.path(), open ? fs::perms(0644) : fs::perms(0600));
    }
  }
  const auto r = load_config(main.string(), builtin_adapters());
  ASSERT_FALSE(r.config) << name << " was accepted";
  auto text = r.diagnostics.to_string();
  const auto prefix = tmp.path().string() + "/";
  for (auto pos = text.find(prefix); pos != std::string::npos; pos = text.find(prefix)) {
    text.erase(pos, prefix.size());
  }
  EXPECT_EQ(text, read(kCases / (name + ".expected"))) << name;
}

INSTANTIATE_TEST_SUITE_P(Table, InvalidConfig, ::testing::ValuesIn(case_names()),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(InvalidConfigTable, HasAtLeastTwentyCases) {
  EXPECT_GE(case_names().size(), 20u);
}

}  // namespace
}  // namespace fieldlink::config
