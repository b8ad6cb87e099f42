// The loader's identities.d support (daemon/config/loader.cpp).
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "ctl_test_support.hpp"

namespace fieldlink::config {
namespace {

using ctl::test::write_file;

class IdentitiesD : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(dir_ / "ca.pem", "x\n");
    write_file(dir_ / "a.key", "AAECAwQFBgcICQoLDA0ODw==\n", 0600);
    write_file(dir_ / "fieldlink.yaml",
               "hub: { host: h.example, ca_file: ca.pem }\n"
               "identities:\n"
               "  - { source: \"modbus://l/1\", device_id: one, key_file: a.key }\n");
  }
  LoadResult load() { return load_config(dir_ / "fieldlink.yaml", registry_); }

  ctl::test::TempDir dir_;
  AdapterRegistry registry_{{}};
};

TEST_F(IdentitiesD, ListsAreAppendedInNameOrderAndPathsResolveBesideTheFile) {
  write_file(dir_ / "identities.d/b.yaml",
             "- { source: \"modbus://l/3\", device_id: three, key_file: ../a.key }\n");
  write_file(dir_ / "identities.d/a.yaml",
             "- { source: \"modbus://l/2\", device_id: two, key_file: ../a.key }\n");
  write_file(dir_ / "identities.d/ignored.txt", "not yaml: [\n");
  write_file(dir_ / "identities.d/empty.yaml", "");
  const auto r = load();
  ASSERT_TRUE(r.config) << r.diagnostics.to_string();
  ASSERT_EQ(r.config->identities.size(), 3u);
  EXPECT_EQ(r.config->identities[1].device_id, "two");
  EXPECT_EQ(r.config->identities[2].device_id, "three");
  EXPECT_EQ(r.config->identities[2].key_file.path, dir_ / "a.key");
  EXPECT_EQ(r.config->files.back(), dir_ / "identities.d/empty.yaml");
}

TEST_F(IdentitiesD, AMapIsRefusedWithItsPlace) {
  write_file(dir_ / "identities.d/x.yaml", "identities:\n  - { source: a }\n");
  const auto r = load();
  ASSERT_FALSE(r.config);
  EXPECT_EQ(r.diagnostics.to_string(),
            dir_ / "identities.d/x.yaml" +
                ":1:1: identities: an identities.d file is a list of bindings (- source: …, "
                "device_id: …), got a mapping\n");
}

TEST_F(IdentitiesD, DuplicatesAcrossFilesNameBothPlaces) {
  write_file(dir_ / "identities.d/dup.yaml",
             "- source: \"modbus://l/1\"\n  device_id: other\n  key_file: ../a.key\n");
  const auto r = load();
  ASSERT_FALSE(r.config);
  const auto text = r.diagnostics.to_string();
  EXPECT_NE(text.find(dir_ / "identities.d/dup.yaml" +
                      ":1:11: identities[1].source: source "
                      "'modbus://l/1' is already bound at " +
                      dir_ / "fieldlink.yaml" + ":3"),
            std::string::npos)
      << text;
}

TEST_F(IdentitiesD, WorksWithoutIdentitiesInTheMainFile) {
  write_file(dir_ / "fieldlink.yaml", "hub: { host: h.example, ca_file: ca.pem }\n");
  write_file(dir_ / "identities.d/a.yaml",
             "- { source: \"modbus://l/2\", device_id: two, key_file: ../a.key }\n");
  const auto r = load();
  ASSERT_TRUE(r.config) << r.diagnostics.to_string();
  EXPECT_EQ(r.config->identities.size(), 1u);
}

TEST_F(IdentitiesD, AnOverriddenListingReplacesTheFolder) {
  write_file(dir_ / "identities.d/a.yaml", "- nonsense\n");
  write_file(dir_ / "staged.tmp",
             "- { source: \"modbus://l/2\", device_id: two, key_file: a.key }\n");
  LoadOptions o;
  o.identity_files = std::vector<std::string>{dir_ / "staged.tmp"};
  const auto r = load_config(dir_ / "fieldlink.yaml", registry_, o);
  ASSERT_TRUE(r.config) << r.diagnostics.to_string();
  EXPECT_EQ(r.config->identities.size(), 2u);
}

}  // namespace
}  // namespace fieldlink::config
