#include "reload_waiter.hpp"

#include <gtest/gtest.h>

#include <deque>

namespace fieldlink::ctl {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json doc(long pid, int reloads, int failures, json extra = json::object()) {
  json d{{"pid", pid},
         {"config", {{"reloads", reloads}, {"reload_failures", failures}, {"loaded_at", "T"}}}};
  for (auto& [k, v] : extra.items())
    d["config"][k] = v;
  return d;
}

// A scripted daemon: each fetch returns the next document; time moves only when paused.
struct Script {
  explicit Script(std::deque<std::optional<json>> d) : docs(std::move(d)) {}
  std::deque<std::optional<json>> docs;
  std::vector<long> signalled;
  std::chrono::steady_clock::time_point t{};
  ReloadPort port() {
    ReloadPort p;
    p.fetch = [this](std::string& error) -> std::optional<json> {
      auto d = docs.size() > 1 ? docs.front() : docs.back();
      if (docs.size() > 1) docs.pop_front();
      if (!d) error = "Connection refused";
      return d;
    };
    p.hangup = [this](long pid) {
      signalled.push_back(pid);
      return std::string();
    };
    p.pause = [this](std::chrono::milliseconds d) { t += d; };
    p.now = [this] { return t; };
    return p;
  }
};

TEST(ReloadWaiter, SuccessWhenTheReloadCounterAdvances) {
  Script s({doc(7, 0, 0), doc(7, 0, 0), doc(7, 1, 0)});
  const auto out = reload_and_wait(s.port(), 5s);
  EXPECT_EQ(out.result, ReloadResult::reloaded);
  EXPECT_EQ(s.signalled, std::vector<long>{7});
}

TEST(ReloadWaiter, RefusalCarriesTheErrors) {
  Script s({doc(7, 3, 1),
            doc(7, 3, 2,
                {{"last_reload_failure",
                  {{"error", "1 error(s)"}, {"errors", {"f.yaml:2:3: hub.port: bad"}}}}})});
  const auto out = reload_and_wait(s.port(), 5s);
  EXPECT_EQ(out.result, ReloadResult::refused);
  EXPECT_NE(out.message.find("1 error(s)"), std::string::npos);
  EXPECT_EQ(out.errors, std::vector<std::string>{"f.yaml:2:3: hub.port: bad"});
}

TEST(ReloadWaiter, TimesOutWhenNothingMoves) {
  Script s({doc(7, 0, 0)});
  const auto out = reload_and_wait(s.port(), 1s);
  EXPECT_EQ(out.result, ReloadResult::timed_out);
  EXPECT_GE(s.t - std::chrono::steady_clock::time_point{}, 1s);
}

TEST(ReloadWaiter, UnreachableBeforeSignalling) {
  Script s({std::nullopt});
  const auto out = reload_and_wait(s.port(), 1s);
  EXPECT_EQ(out.result, ReloadResult::unreachable);
  EXPECT_TRUE(s.signalled.empty());
}

TEST(ReloadWaiter, ARestartedDaemonIsNotASuccess) {
  EXPECT_EQ(judge_reload({7, 0, 0}, doc(8, 0, 0))->result, ReloadResult::unreachable);
  EXPECT_FALSE(judge_reload({7, 0, 0}, doc(7, 0, 0)));
}

}  // namespace
}  // namespace fieldlink::ctl
