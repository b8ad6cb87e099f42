// How light is a hub session? Connects N identities over TLS from one loop thread and prints the
// process's RSS, threads, kernel socket memory and idle CPU once all are online — fieldlink's
// own client (`fieldlink N`) or, for the side-by-side reference, libmosquitto with its threaded
// loop per client, the obvious way to use it (`libmosquitto N`). Both talk to the same broker.
//
//   identities_bench fieldlink|libmosquitto N HOST PORT CA_FILE [CONNECT_RATE [IDLE_SECONDS]]
// Idle CPU is measured over IDLE_SECONDS (default 10) once every session is online.
#include <mosquitto.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/rng.hpp"
#include "hub/mqtt/tls_context.hpp"
#include "hub/upstream.hpp"

namespace {

using namespace std::chrono_literals;

struct Figures {
  long rss_kib = 0;
  long threads = 0;
};

Figures self_figures() {
  Figures f;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) f.rss_kib = std::stol(line.substr(6));
    if (line.rfind("Threads:", 0) == 0) f.threads = std::stol(line.substr(8));
  }
  return f;
}

// Kernel memory of all TCP sockets on the machine (pages → KiB), from /proc/net/sockstat.
long tcp_socket_kib() {
  std::ifstream in("/proc/net/sockstat");
  std::string word;
  while (in >> word) {
    if (word == "mem") {
      long pages = 0;
      in >> pages;
      return pages * (sysconf(_SC_PAGESIZE) / 1024);
    }
  }
  return -1;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void report(const char* who, int n, double connect_seconds, long socket_base, double idle_s) {
  const auto before = cpu_seconds();
  std::this_thread::sleep_for(std::chrono::duration<double>(idle_s));  // the idle window
  const double idle_cpu = (cpu_seconds() - before) / idle_s * 100.0;
  const auto f = self_figures();
  std::printf(
      "%-12s identities=%5d connect_s=%6.1f rss_mib=%7.1f rss_per_session_kib=%6.1f "
      "threads=%4ld tcp_socket_kib=%7ld idle_cpu_pct=%5.2f\n",
      who, n, connect_seconds, f.rss_kib / 1024.0, f.rss_kib / static_cast<double>(n), f.threads,
      tcp_socket_kib() - socket_base, idle_cpu);
  std::fflush(stdout);
}

class NullOutbox final : public fieldlink::hub::Outbox {
  void peek(const fieldlink::Identity&, std::uint64_t, std::size_t,
            std::function<void(std::vector<Entry>)> done) override {
    done({});
  }
  void ack(const fieldlink::Identity&, std::uint64_t) override {}
  void reject(const fieldlink::Identity&, std::uint64_t, std::string_view) override {}
};

class NullDownlink final : public fieldlink::hub::DownlinkHandler {
  void downlink(fieldlink::hub::Downlink, fieldlink::hub::SettleDownlink complete) override {
    complete(fieldlink::hub::Settle::taken);
  }
};

class QuietLog final : public fieldlink::Logger {
  void log(fieldlink::LogLevel level, const fieldlink::LogFields&, std::string_view m) override {
    if (level <= fieldlink::LogLevel::warning) std::cerr << m << "\n";
  }
};

int run_fieldlink(int n, const std::string& host, unsigned short port, const std::string& ca,
                  double rate, double idle_s) {
  const auto socket_base = tcp_socket_kib();
  boost::asio::io_context loop(1);
  fieldlink::SystemClock clock;
  fieldlink::SystemRng rng;
  QuietLog log;
  NullOutbox outbox;
  NullDownlink downlink;
  fieldlink::hub::mqtt::TlsContext tls(ca);
  fieldlink::hub::Upstream upstream(loop, {rate, 0}, outbox, downlink, log, clock, rng);
  for (int i = 0; i < n; ++i) {
    fieldlink::hub::SessionSettings s;
    s.identity = {fieldlink::DeviceId("bench-" + std::to_string(i)), fieldlink::ModuleId()};
    s.hub_host = host;
    s.endpoint = {host, port};
    s.sas_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    s.tls = &tls;
    s.keepalive = 240s;
    upstream.add(std::move(s));
  }
  const auto started = std::chrono::steady_clock::now();
  boost::asio::steady_timer check(loop);
  double connect_seconds = 0;
  std::function<void()> poll = [&] {
    int online = 0;
    for (int i = 0; i < n; ++i) {
      auto* s =
          upstream.find({fieldlink::DeviceId("bench-" + std::to_string(i)), fieldlink::ModuleId()});
      online += s->state() == fieldlink::hub::SessionState::online ? 1 : 0;
    }
    if (online == n) {
      connect_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      loop.stop();
      return;
    }
    check.expires_after(100ms);
    check.async_wait([&](auto) { poll(); });
  };
  poll();
  loop.run();
  loop.restart();
  // The loop keeps serving keep-alives through the whole window, and a little beyond it.
  std::thread idle(
      [&] { loop.run_for(std::chrono::milliseconds(static_cast<long>((idle_s + 2) * 1000))); });
  report("fieldlink", n, connect_seconds, socket_base, idle_s);
  idle.join();
  return 0;
}

int run_libmosquitto(int n, const std::string& host, unsigned short port, const std::string& ca,
                     double idle_s) {
  const auto socket_base = tcp_socket_kib();
  mosquitto_lib_init();
  std::atomic<int> online{0};
  std::vector<mosquitto*> clients;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    const auto id = "ref-" + std::to_string(i);
    auto* m = mosquitto_new(id.c_str(), false, &online);
    mosquitto_tls_set(m, ca.c_str(), nullptr, nullptr, nullptr, nullptr);
    mosquitto_connect_callback_set(m, [](mosquitto*, void* ctx, int rc) {
      if (rc == 0) ++*static_cast<std::atomic<int>*>(ctx);
    });
    mosquitto_connect_async(m, host.c_str(), port, 240);
    clients.push_back(m);
    // A thread per client: where the machine caps threads, say so instead of waiting forever.
    if (const int rc = mosquitto_loop_start(m); rc != MOSQ_ERR_SUCCESS) {
      std::fprintf(stderr, "libmosquitto: client %d of %d has no thread (%s)\n", i + 1, n,
                   mosquitto_strerror(rc));
      std::_Exit(1);
    }
  }
  const auto deadline = started + 300s;
  while (online < n) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "libmosquitto: %d of %d online after 300 s\n", online.load(), n);
      std::_Exit(1);
    }
    std::this_thread::sleep_for(100ms);
  }
  const double connect_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  report("libmosquitto", n, connect_seconds, socket_base, idle_s);
  for (auto* m : clients) {
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, true);
    mosquitto_destroy(m);
  }
  mosquitto_lib_cleanup();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr,
                 "usage: %s fieldlink|libmosquitto N HOST PORT CA_FILE [CONNECT_RATE "
                 "[IDLE_SECONDS]]\n",
                 argv[0]);
    return 64;
  }
  rlimit nofile{65536, 65536};
  setrlimit(RLIMIT_NOFILE, &nofile);
  const std::string who = argv[1];
  const int n = std::stoi(argv[2]);
  const auto port = static_cast<unsigned short>(std::stoi(argv[4]));
  const double rate = argc > 6 ? std::stod(argv[6]) : 500;
  const double idle_s = argc > 7 ? std::stod(argv[7]) : 10;
  return who == "fieldlink" ? run_fieldlink(n, argv[3], port, argv[5], rate, idle_s)
                            : run_libmosquitto(n, argv[3], port, argv[5], idle_s);
}
