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
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "core/log.hpp"
#include "recording_logger.hpp"
#include "status/http_listener.hpp"

namespace fieldlink {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

using testing_support::RecordingLogger;

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
  using Answer = http::response<http::string_body>;

  HttpListenerAcceptFailure() {
    HttpListener::Limits limits;
    limits.name = "test listener";
    limits.refused_event = "test.connection_refused";
    listener.emplace(
        loop, limits,
        [](HttpListener::Request req, const HttpListener::Peer&, HttpListener::Respond respond) {
          HttpListener::Response res{http::status::ok, 11};
          res.keep_alive(req.keep_alive());
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

  // Sends GET / on a connected socket and runs the loop until the answer is read, at most 10 s
  // (the longest pause after a failed accept is 1 s).
  std::optional<Answer> round_trip(asio::ip::tcp::socket& socket) {
    http::request<http::string_body> req{http::verb::get, "/", 11};
    req.set(http::field::host, "test");
    req.keep_alive(false);
    Answer res;
    beast::flat_buffer buffer;
    bool answered = false;
    http::async_write(socket, req, [&](beast::error_code write_ec, std::size_t) {
      if (write_ec) return loop.stop();
      http::async_read(socket, buffer, res, [&](beast::error_code ec, std::size_t) {
        answered = !ec;
        loop.stop();
      });
    });
    loop.restart();
    loop.run_for(10s);
    loop.restart();
    if (!answered) return std::nullopt;
    return res;
  }

  // Done with fds to spare, before a test takes them all. UBSan's vptr check, the first time it
  // meets an object's dynamic type, reads the vtable through a pipe() of its own
  // (sanitizer_common's IsAccessibleMemoryRange); with no fd left that fails and is reported as
  // an invalid vptr. Serving one request, waiting on a timer and logging an EMFILE once meet
  // the types the exhausted part meets (the sanitizer build runs these tests too).
  void serve_one_request_first() {
    asio::ip::tcp::socket first(loop);
    first.connect(endpoint);
    const auto answer = round_trip(first);
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->body(), "ok\n");
    asio::steady_timer timer(loop, 1ms);
    timer.async_wait([](beast::error_code) {});
    loop.run_one_for(1s);
    loop.restart();
    static_cast<Logger&>(log).warning({.event = "warm-up"}, emfile_text);
    log.records.clear();
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

  const std::string emfile_text = beast::error_code(EMFILE, boost::system::system_category())
                                      .message();  // "Too many open files"
  asio::io_context loop;
  RecordingLogger log;
  std::optional<HttpListener> listener;
  asio::ip::tcp::endpoint endpoint;
  asio::ip::tcp::socket client{loop};
};

TEST_F(HttpListenerAcceptFailure, PausesInsteadOfSpinningAndAcceptsOnceFdsAreBack) {
  ASSERT_NO_FATAL_FAILURE(serve_one_request_first());
  {
    FdExhaustion exhausted;
    ASSERT_TRUE(exhausted.exhausted());
    client.connect(endpoint);
    // Re-arming at once runs one handler per failed accept: over a hundred thousand in this
    // time. Pausing 100 ms, then 200 ms, runs about five (three failed accepts, two pauses).
    const std::size_t handlers = loop.run_for(500ms);
    EXPECT_LT(handlers, 20u);
    const auto failures = log.with_event(kAcceptFailed);
    ASSERT_GE(failures.size(), 1u);  // accept really failed, or the count above proves nothing
    EXPECT_LE(failures.size(), handlers);
    EXPECT_EQ(failures.front().level, LogLevel::warning);
    EXPECT_NE(failures.front().message.find("test listener"), std::string::npos);
    EXPECT_NE(failures.front().message.find(emfile_text), std::string::npos)
        << failures.front().message;
  }

  // Fds are back: the connection waiting in the backlog is accepted after the pause and answered.
  const auto answer = round_trip(client);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->result(), http::status::ok);
  EXPECT_EQ(answer->body(), "ok\n");
  EXPECT_EQ(log.with_event("test.accepting_again").size(), 1u);
}

TEST_F(HttpListenerAcceptFailure, CloseDuringThePauseLeavesNothingToRun) {
  ASSERT_NO_FATAL_FAILURE(serve_one_request_first());
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
  ASSERT_NO_FATAL_FAILURE(serve_one_request_first());
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
