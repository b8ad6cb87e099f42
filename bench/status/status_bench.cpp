// What one GET /status costs the core loop at many identities: builds the document for N real
// hub sessions (hub::Upstream's own describe, through the StatusBoard) and renders it as each
// query asks (status_query.hpp, the code the endpoint runs), printing bytes and milliseconds.
// The sessions never connect (the loop never runs): what is timed is describe and rendering,
// which do not depend on a session's state.
//
//   status_bench [N [ROUNDS]]     defaults: 3000 identities, 15 rounds; prints the median.
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/rng.hpp"
#include "hub/upstream.hpp"
#include "router_fakes.hpp"
#include "status/daemon_status.hpp"
#include "status/status_board.hpp"
#include "status/status_query.hpp"

namespace {

using namespace std::chrono_literals;

struct Figure {
  std::size_t bytes = 0;
  double median_ms = 0;
  double min_ms = 0;
};

Figure measure(const fieldlink::StatusBoard& board, const fieldlink::StatusQuery& query,
               int rounds) {
  std::vector<double> ms;
  std::size_t bytes = 0;
  for (int i = 0; i < rounds; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    bytes = fieldlink::status_body(board, query).size();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {bytes, ms[ms.size() / 2], ms.front()};
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 3000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 15;
  if (n <= 0 || rounds <= 0) {
    std::fprintf(stderr, "usage: status_bench [N [ROUNDS]]\n");
    return 2;
  }
  boost::asio::io_context loop(1);
  fieldlink::SystemClock clock;
  fieldlink::SystemRng rng;
  fieldlink::test::QuietLog log;
  fieldlink::test::NoOutbox outbox;
  fieldlink::test::NoDownlink downlink;
  fieldlink::hub::Upstream upstream(loop, {10, 0}, outbox, downlink, log, clock, rng);
  for (int i = 0; i < n; ++i) {
    fieldlink::hub::SessionSettings s;
    s.identity = {fieldlink::DeviceId("bench-device-" + std::to_string(i)), fieldlink::ModuleId()};
    s.hub_host = "bench-hub.azure-devices.net";
    s.endpoint = {"127.0.0.1", 8883};
    s.sas_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    upstream.add(std::move(s));
  }
  fieldlink::DaemonStatus daemon(clock, "/etc/fieldlink/fieldlink.yaml");
  fieldlink::StatusBoard board;
  board.attach(daemon);
  board.attach(upstream);

  struct Variant {
    const char* name;
    fieldlink::StatusQuery query;
  };
  const Variant variants[] = {
      {"/status?pretty (the old default)", {.pretty = true, .sessions_summary = false}},
      {"/status (compact)", {.pretty = false, .sessions_summary = false}},
      {"/status?sessions=summary", {.pretty = false, .sessions_summary = true}},
      {"/status?pretty&sessions=summary", {.pretty = true, .sessions_summary = true}},
  };
  std::printf("identities=%d rounds=%d\n", n, rounds);
  for (const auto& v : variants) {
    const auto f = measure(board, v.query, rounds);
    std::printf("%-34s bytes=%9zu median_ms=%7.2f min_ms=%7.2f\n", v.name, f.bytes, f.median_ms,
                f.min_ms);
  }
  board.detach(upstream);
  board.detach(daemon);
  upstream.stop();
  return 0;
}
