#pragma once
// Shared pieces of the journal tests: a temporary state directory, a scripted free-space probe, a
// logger that keeps what it was told (tests/fixtures), and message builders.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/log.hpp"
#include "core/message.hpp"
#include "recording_logger.hpp"
#include "store/free_space_probe.hpp"

namespace fieldlink::testing_support {

class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "fieldlink-journal-XXXXXX";
    if (!::mkdtemp(pattern.data())) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

class ScriptedProbe final : public FreeSpaceProbe {
 public:
  std::optional<std::uint64_t> available_bytes(const std::string&) const override {
    ++calls;
    return model ? std::optional<std::uint64_t>(model()) : available;
  }
  std::optional<std::uint64_t> available;  // nullopt: unknown
  std::function<std::uint64_t()> model;    // if set, asked instead (a filesystem that fills up)
  mutable int calls = 0;
};

inline config::StoreConfig store_config(std::uint64_t max_size = 64u << 20) {
  config::StoreConfig c;
  c.max_size = {max_size};
  c.min_free = {0};
  c.max_age = std::chrono::hours(24);
  c.on_full = config::OnFull::drop_oldest;
  c.sync = config::SyncMode::normal;
  c.commit_interval = std::chrono::milliseconds(5);
  return c;
}

inline Identity identity(const std::string& device, const std::string& module = {}) {
  return Identity{DeviceId(device), ModuleId(module)};
}

inline Message message(const Identity& who, std::string id, std::size_t body_size = 200) {
  Message m;
  m.identity = who;
  m.id = std::move(id);
  std::string body(body_size, 'x');
  for (std::size_t i = 0; i < body_size && i < m.id.size(); ++i)
    body[i] = m.id[i];
  m.body = std::make_shared<const std::string>(std::move(body));
  m.content_type = "application/json";
  m.content_encoding = "utf-8";
  m.properties = {{"source", "modbus://line/3"}, {"k", std::string("v\0w", 3)}};
  m.created =
      std::chrono::system_clock::time_point(std::chrono::nanoseconds(1'700'000'000'123'456'789));
  return m;
}

}  // namespace fieldlink::testing_support
