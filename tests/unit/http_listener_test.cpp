// HttpListener when accept() fails for lack of file descriptors. The refused connection stays in
// the kernel's backlog, so the acceptor is ready again at once: re-arming accept straight away
// spins the core loop. These tests make the process really run out of fds (EMFILE) and count
// the handlers the loop runs — a count, not a timing — then check the listener takes the same
// connection once fds are back, and that closing or destroying it during its pause leaves
// nothing behind on the loop.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "core/log.hpp"
#include "status/http_listener.hpp"

namespace fieldlink {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

class RecordingLog final : public Logger {
 public:
  struct Record {
    LogLevel level;
    std::string event;
    std::string message;
  };

  void log(LogLevel level, const LogFields& f, std::string_view message) override {
    records.push_back({level, std::string(f.event), std::string(message)});
  }

  std::vector<Record> with_event(std::string_view event) const {
    std::vector<Record> found;
    for (const auto& r : records) {
      if (r.event == event) found.push_back(r);
    }
    return found;
  }

  std::vector<Record> records;
};

int highest_open_fd() {
  int highest = 2;
  // The iterator's own fd is listed too; it only makes the margin above a little larger.
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    highest = std::max(highest, std::stoi(entry.path().filename().string()));
  }
  return highest;
}

// Takes every free file descriptor of the process — lowering RLIMIT_NOFILE first, so that is a
// handful rather than a million — and gives them all back, with the old limit, when released or
// destroyed, so a failed assertion cannot leave the rest of the test binary without fds.
class FdExhaustion {
 public:
  FdExhaustion() {
    if (::getrlimit(RLIMIT_NOFILE, &saved_) != 0) return;
    const int spare = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (spare < 0) return;
    fds_.push_back(spare);
    rlimit low = saved_;
    low.rlim_cur = static_cast<rlim_t>(highest_open_fd()) + 16;
    if (::setrlimit(RLIMIT_NOFILE, &low) != 0) return;
    lowered_ = true;
    // Bounded: below the lowered limit there are at most that many fds to take (inherited ones
    // can leave gaps below the highest open fd).
    for (rlim_t i = 0; i <= low.rlim_cur; ++i) {
      const int fd = ::dup(spare);
      if (fd < 0) {
        exhausted_ = errno == EMFILE;
        return;
      }
      fds_.push_back(fd);
    }
  }
  ~FdExhaustion() { release(); }
  FdExhaustion(const FdExhaustion&) = delete;
  FdExhaustion& operator=(const FdExhaustion&) = delete;

  // True when the last dup() failed with EMFILE: the process has no fd left to give.
  bool exhausted() const { return exhausted_; }

  void release() {
    for (const int fd : fds_)
      ::close(fd);
    fds_.clear();
    if (lowered_) ::setrlimit(RLIMIT_NOFILE, &saved_);
    lowered_ = false;
    exhausted_ = false;
  }

 private:
  rlimit saved_{};
  std::vector<int> fds_;
  bool lowered_ = false;
  bool exhausted_ = false;
};

constexpr std::string_view kAcceptFailed = "test.accept_failed";

class HttpListenerAcceptFailure : public ::testing::Test {
 protected:
  HttpListenerAcceptFailure() {
    HttpListener::Limits limits;
    limits.name = "test listener";
    limits.refused_event = "test.connection_refused";
    listener.emplace(
        loop, limits,
        [](HttpListener::Request, const HttpListener::Peer&, HttpListener::Respond respond) {
          HttpListener::Response res{http::status::ok, 11};
          res.body() = "ok\n";
          res.prepare_payload();
          respond(std::move(res));
        },
        log);
    asio::ip::tcp::acceptor acceptor(loop, {asio::ip::make_address("127.0.0.1"), 0});
    endpoint = acceptor.local_endpoint();
    listener->serve(std::move(acceptor));
    client.open(asio::ip::tcp::v4());  // now, while there are fds: connect() takes none
  }

  // Connects while the process has no fd left, and runs the loop until the listener's accept
  // has failed once (bounded).
  void connect_and_see_accept_fail(FdExhaustion& exhausted) {
    ASSERT_TRUE(exhausted.exhausted());
    client.connect(endpoint);  // the kernel completes the handshake; the connection waits
    for (int i = 0; i < 10 && log.with_event(kAcceptFailed).empty(); ++i) {
      loop.run_one_for(1s);
    }
    ASSERT_EQ(log.with_event(kAcceptFailed).size(), 1u);
  }

  asio::io_context loop;
  RecordingLog log;
  std::optional<HttpListener> listener;
  asio::ip::tcp::endpoint endpoint;
  asio::ip::tcp::socket client{loop};
};

TEST_F(HttpListenerAcceptFailure, PausesInsteadOfSpinningAndAcceptsOnceFdsAreBack) {
  {
    FdExhaustion exhausted;
    ASSERT_TRUE(exhausted.exhausted());
    client.connect(endpoint);
    // Re-arming at once runs one handler per failed accept: hundreds of thousands in this time.
    // Pausing 100 ms, then 200 ms, runs about five (three failed accepts, two pauses).
    const std::size_t handlers = loop.run_for(500ms);
    EXPECT_LT(handlers, 20u);
    const auto failures = log.with_event(kAcceptFailed);
    ASSERT_GE(failures.size(), 1u);  // accept really failed, or the count above proves nothing
    EXPECT_LE(failures.size(), handlers);
    EXPECT_EQ(failures.front().level, LogLevel::warning);
    EXPECT_NE(failures.front().message.find("test listener"), std::string::npos);
    EXPECT_NE(
        failures.front().message.find(std::error_code(EMFILE, std::generic_category()).message()),
        std::string::npos)
        << failures.front().message;
  }

  // Fds are back: the connection waiting in the backlog is accepted after the pause and answered.
  http::request<http::string_body> req{http::verb::get, "/", 11};
  req.set(http::field::host, "test");
  http::response<http::string_body> res;
  beast::flat_buffer buffer;
  beast::error_code read_ec = asio::error::timed_out;
  bool answered = false;
  http::async_write(client, req, [&](beast::error_code write_ec, std::size_t) {
    if (write_ec) {
      read_ec = write_ec;
      return loop.stop();
    }
    http::async_read(client, buffer, res, [&](beast::error_code ec, std::size_t) {
      read_ec = ec;
      answered = true;
      loop.stop();
    });
  });
  loop.restart();
  loop.run_for(10s);  // the longest pause is 1 s; stopped by the answer
  ASSERT_TRUE(answered) << read_ec.message();
  EXPECT_FALSE(read_ec) << read_ec.message();
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "ok\n");
  EXPECT_EQ(log.with_event("test.accepting_again").size(), 1u);
}

TEST_F(HttpListenerAcceptFailure, CloseDuringThePauseLeavesNothingToRun) {
  {
    FdExhaustion exhausted;
    ASSERT_NO_FATAL_FAILURE(connect_and_see_accept_fail(exhausted));
  }
  listener->close();
  // The cancelled pause completes at once; an uncancelled one would still be pending here.
  loop.poll();
  EXPECT_TRUE(loop.stopped());
  EXPECT_EQ(log.with_event(kAcceptFailed).size(), 1u);  // nothing tried to accept again
}

TEST_F(HttpListenerAcceptFailure, DestroyedDuringThePauseLeavesNothingToRun) {
  {
    FdExhaustion exhausted;
    ASSERT_NO_FATAL_FAILURE(connect_and_see_accept_fail(exhausted));
  }
  listener.reset();
  // Nothing of the gone listener may run (the sanitizer build would see it touch freed memory).
  loop.poll();
  EXPECT_TRUE(loop.stopped());
  EXPECT_EQ(log.with_event(kAcceptFailed).size(), 1u);
}

}  // namespace
}  // namespace fieldlink
