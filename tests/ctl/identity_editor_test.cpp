// identity add/remove on a temp config folder: what is written, with which modes, and that a
// refused edit leaves every file as it was.
#include "identity_editor.hpp"

#include <gtest/gtest.h>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "ctl_test_support.hpp"
#include "identity_file.hpp"

namespace fieldlink::ctl {
namespace {

namespace fs = std::filesystem;
using test::mode_of;
using test::read_file;
using test::write_file;

const std::string kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";  // 32 bytes

class IdentityEditor : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(dir_ / "ca.pem", "not checked here\n");
    write_file(dir_ / "k1.key", kKey + "\n", 0600);
    write_file(dir_ / "group.key", kKey + "\n", 0600);
    write_file(dir_ / "fieldlink.yaml",
               "gateway: { name: t, state_dir: state }\n"
               "hub: { host: hub.example, ca_file: ca.pem }\n"
               "identities:\n"
               "  - { source: \"modbus://line/1\", device_id: dev-1, key_file: k1.key }\n");
    place_.config_path = dir_ / "fieldlink.yaml";
    place_.keys_dir = dir_ / "keys";
    place_.load = [this](const config::LoadOptions& o) {
      return config::load_config(place_.config_path, registry_, o);
    };
    place_.random_bytes = [](std::size_t n) { return std::string(n, '\x07'); };
  }

  // Every file under the folder with its content, to prove a refused edit changed nothing.
  std::map<std::string, std::string> snapshot() const {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir_.path())) {
      out[e.path().string()] = e.is_regular_file() ? read_file(e.path().string()) : "<dir>";
    }
    return out;
  }

  AddRequest generated(const std::string& device) {
    AddRequest r;
    r.source = "modbus://line/" + device;
    r.device_id = device;
    r.kind = CredentialKind::generate;
    return r;
  }

  test::TempDir dir_;
  AdapterRegistry registry_{{}};
  IdentityPlace place_;
};

TEST_F(IdentityEditor, GeneratedKeyIsPrivateAndTheBindingLoads) {
  const auto r = add_identity(place_, generated("dev-2"));
  ASSERT_TRUE(r.ok) << ::testing::PrintToString(r.errors);
  EXPECT_EQ(r.file, dir_ / "identities.d/dev-2.yaml");
  EXPECT_EQ(r.key_file, dir_ / "keys/dev-2.key");
  EXPECT_EQ(mode_of(r.key_file), 0600u);
  EXPECT_EQ(mode_of(dir_ / "keys"), 0700u);
  EXPECT_EQ(r.generated_key, "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=");
  EXPECT_EQ(read_file(r.key_file), r.generated_key + "\n");
  EXPECT_EQ(read_file(r.file).find(r.generated_key), std::string::npos);  // never in the binding
  const auto loaded = place_.load({});
  ASSERT_TRUE(loaded.config) << loaded.diagnostics.to_string();
  ASSERT_EQ(loaded.config->identities.size(), 2u);
  EXPECT_EQ(loaded.config->identities[1].device_id, "dev-2");
  EXPECT_EQ(loaded.config->identities[1].key_file.path, r.key_file);
  // Nothing else is left behind in identities.d (no temp files).
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "identities.d"), fs::directory_iterator{}),
            1);
}

// The package makes identities.d and keys for user fieldlink while ctl runs as root: what ctl
// writes there must belong to the folder's owner, or the daemon cannot read its own keys. As
// root the folders are given to nobody; otherwise the owner is ours, which still must match.
TEST_F(IdentityEditor, NewFilesTakeTheOwnerOfTheirFolder) {
  const auto ids = dir_ / "identities.d";
  const auto keys = dir_ / "keys";
  ASSERT_EQ(::mkdir(ids.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(keys.c_str(), 0700), 0);
  if (::geteuid() == 0) {
    const passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    ASSERT_EQ(::chown(ids.c_str(), nobody->pw_uid, nobody->pw_gid), 0);
    ASSERT_EQ(::chown(keys.c_str(), nobody->pw_uid, nobody->pw_gid), 0);
  }
  const auto r = add_identity(place_, generated("dev-2"));
  ASSERT_TRUE(r.ok) << ::testing::PrintToString(r.errors);
  const auto owner = [](const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return std::pair(st.st_uid, st.st_gid);
  };
  EXPECT_EQ(owner(r.file), owner(ids));
  EXPECT_EQ(owner(r.key_file), owner(keys));
  if (::geteuid() == 0) {
    EXPECT_NE(owner(r.key_file).first, 0u);
  }
  EXPECT_EQ(mode_of(r.key_file), 0600u);
  EXPECT_EQ(mode_of(r.file), 0644u);
}

TEST_F(IdentityEditor, DuplicateSourceOrIdentityIsRefusedAndNothingChanges) {
  const auto before = snapshot();
  auto r = generated("dev-1");
  r.source = "modbus://line/1";
  auto result = add_identity(place_, r);
  EXPECT_FALSE(result.ok);
  ASSERT_EQ(result.errors.size(), 2u);
  EXPECT_EQ(result.errors[0],
            "source 'modbus://line/1' is already bound at " + (dir_ / "fieldlink.yaml") + ":4");
  EXPECT_EQ(result.errors[1],
            "identity 'dev-1' is already bound at " + (dir_ / "fieldlink.yaml") + ":4");
  EXPECT_EQ(snapshot(), before);
}

TEST_F(IdentityEditor, BadSyntaxIsRefusedBeforeAnythingIsWritten) {
  const auto before = snapshot();
  AddRequest r = generated("x");
  r.source = "modbus:/line";
  r.device_id = "no spaces";
  const auto result = add_identity(place_, r);
  EXPECT_FALSE(result.ok);
  ASSERT_EQ(result.errors.size(), 2u);
  EXPECT_NE(result.errors[0].find("is not a source address"), std::string::npos);
  EXPECT_NE(result.errors[1].find("is not a valid IoT Hub device id"), std::string::npos);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(IdentityEditor, AKeyFileOthersCanReadFailsTheFullCheckAndNothingChanges) {
  write_file(dir_ / "open.key", kKey + "\n", 0644);
  const auto before = snapshot();
  AddRequest r;
  r.source = "modbus://line/9";
  r.device_id = "dev-9";
  r.kind = CredentialKind::key_file;
  r.key_file = dir_ / "open.key";
  const auto result = add_identity(place_, r);
  EXPECT_FALSE(result.ok);
  ASSERT_EQ(result.errors.size(), 2u);
  // The error names the file it would have been, at its line and column.
  EXPECT_EQ(result.errors[1].rfind("  " + (dir_ / "identities.d/dev-9.yaml") + ":", 0), 0u)
      << result.errors[1];
  EXPECT_NE(result.errors[1].find("chmod 600"), std::string::npos);
  EXPECT_EQ(snapshot(), before);  // not even the identities.d folder is left
}

TEST_F(IdentityEditor, AMalformedKeyIsRefusedAndItsKeyFileIsNotLeft) {
  AddRequest r = generated("dev-5");
  r.kind = CredentialKind::key;
  r.key_base64 = "not base64!";
  const auto result = add_identity(place_, r);
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(fs::exists(dir_ / "keys/dev-5.key"));
  EXPECT_FALSE(fs::exists(dir_ / "keys"));
}

TEST_F(IdentityEditor, WildcardNeedsAGroupKey) {
  AddRequest r;
  r.source = "mqtt://plant/+";
  r.device_id = "plant-{1}";
  r.kind = CredentialKind::generate;
  EXPECT_FALSE(add_identity(place_, r).ok);
  r.kind = CredentialKind::group;
  r.group_key_file = dir_ / "group.key";
  const auto result = add_identity(place_, r);
  ASSERT_TRUE(result.ok) << ::testing::PrintToString(result.errors);
  EXPECT_EQ(result.key_file, "");
  EXPECT_NE(read_file(result.file).find("group_key_file: \"" + (dir_ / "group.key") + "\""),
            std::string::npos);
}

TEST_F(IdentityEditor, RemoveDeletesTheFileAndTheKeyItCreated) {
  const auto added = add_identity(place_, generated("dev-2"));
  ASSERT_TRUE(added.ok);
  const auto removed = remove_identity(place_, "dev-2", "");
  ASSERT_TRUE(removed.ok) << ::testing::PrintToString(removed.errors);
  EXPECT_FALSE(fs::exists(added.file));
  EXPECT_FALSE(fs::exists(added.key_file));
  EXPECT_EQ(removed.key_file, added.key_file);
  EXPECT_EQ(place_.load({}).config->identities.size(), 1u);
}

TEST_F(IdentityEditor, RemoveKeepsAKeyItDidNotCreate) {
  AddRequest r;
  r.source = "modbus://line/2";
  r.device_id = "dev-2";
  r.kind = CredentialKind::key_file;
  r.key_file = dir_ / "k1.key";
  ASSERT_TRUE(add_identity(place_, r).ok);
  const auto removed = remove_identity(place_, "dev-2", "");
  ASSERT_TRUE(removed.ok);
  EXPECT_EQ(removed.key_file, "");
  EXPECT_TRUE(fs::exists(dir_ / "k1.key"));
}

TEST_F(IdentityEditor, RemoveRefusesABindingInAHandWrittenFile) {
  const auto before = snapshot();
  const auto removed = remove_identity(place_, "dev-1", "");
  EXPECT_FALSE(removed.ok);
  ASSERT_EQ(removed.errors.size(), 1u);
  EXPECT_NE(removed.errors[0].find("which fieldlinkctl did not write"), std::string::npos);
  EXPECT_EQ(snapshot(), before);
  EXPECT_FALSE(remove_identity(place_, "nobody", "").ok);
}

TEST_F(IdentityEditor, ModuleIdentitiesGetTheirOwnFile) {
  auto r = generated("dev-7");
  r.module_id = "m1";
  const auto result = add_identity(place_, r);
  ASSERT_TRUE(result.ok) << ::testing::PrintToString(result.errors);
  EXPECT_EQ(result.file, dir_ / "identities.d/dev-7@m1.yaml");
  EXPECT_EQ(place_.load({}).config->identities[1].module_id, "m1");
}

TEST(IdentityFile, MarkerRoundTripsAndScalarsAreQuoted) {
  BindingText b{"mqtt://a/\"x\"", "d:1", "", "/k/d.key", "", "", "/k/d.key"};
  const auto text = identity_file_text(b);
  const auto m = read_marker(text);
  EXPECT_TRUE(m.written_by_ctl);
  EXPECT_EQ(m.created_key_file, "/k/d.key");
  EXPECT_NE(text.find("- source: \"mqtt://a/\\\"x\\\"\"\n"), std::string::npos);
  EXPECT_FALSE(read_marker("- source: x\n").written_by_ctl);
}

}  // namespace
}  // namespace fieldlink::ctl
