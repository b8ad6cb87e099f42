// The counting subscriber on the upstream broker: subscribes at QoS 1, recognises the readings of
// reading_publisher in whatever envelope they arrive (the bridge forwards them as they are,
// fieldlinkd wraps them in its hub message body) by their "dev", "seq" and "t_us" fields, and
// counts unique readings, duplicates and per-device order breaks. Latency is the receive time
// minus the embedded publish time (both CLOCK_MONOTONIC on this machine).
//
//   reading_counter --port P --expect M [--topic '#'] [--idle-timeout S] [--timeout S]
//                   [--window S]   (count only S seconds from the first reading: a paced rate)
//                   [--session ID [--subscribe-only yes]]
// --session keeps a persistent session (clean session off) under client id ID, so a broker with
// persistence queues readings for it while it is away; --subscribe-only leaves right after the
// SUBACK. Together they let a benchmark subscribe before an outage ends, so nothing the
// forwarders deliver in the first milliseconds after the upstream returns is missed.
// Prints `ready` once subscribed, then one result line when M unique readings arrived, nothing
// arrived for the idle timeout, or the overall timeout passed:
//   received U dup D order_breaks B rate R msg/s p50 X ms p99 Y ms max Z ms
// Exit 0 when all M arrived, 3 when some are missing.
#include <mosquitto.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

long long now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
      .count();
}

// The number after `"name":` in text, or -1 when absent.
double field(std::string_view text, std::string_view name) {
  std::string key = "\"";
  key += name;
  key += "\":";
  const auto at = text.find(key);
  if (at == std::string_view::npos) return -1;
  // Payloads are not NUL-terminated: copy the few characters the number can take.
  char digits[32] = {};
  const auto from = at + key.size();
  const auto n = std::min<std::size_t>(sizeof digits - 1, text.size() - from);
  std::memcpy(digits, text.data() + from, n);
  return std::strtod(digits, nullptr);
}

class Counter {
 public:
  explicit Counter(long expect) : expect_(expect) { latencies_us_.reserve(expect); }

  void message(std::string_view payload) {
    const long long received = now_us();
    const double dev = field(payload, "dev");
    const double seq = field(payload, "seq");
    const double sent = field(payload, "t_us");
    std::lock_guard lock(mutex_);
    if (!counting_) return;
    last_message_ = Clock::now();
    if (dev < 0 || seq < 0 || sent < 0) {
      ++foreign_;
      return;
    }
    const auto d = static_cast<std::size_t>(dev);
    const auto s = static_cast<std::size_t>(seq);
    if (seen_.size() <= d) {
      seen_.resize(d + 1);
      last_seq_.resize(d + 1, -1);
    }
    auto& bits = seen_[d];
    if (bits.size() <= s) bits.resize(std::max(s + 1, bits.size() * 2));
    if (bits[s]) {
      ++duplicates_;
      return;
    }
    bits[s] = true;
    if (static_cast<long>(s) < last_seq_[d]) ++order_breaks_;
    last_seq_[d] = static_cast<long>(s);
    if (unique_ == 0) {
      first_us_ = received;
      done_.notify_all();  // a fixed window starts now
    }
    last_us_ = received;
    ++unique_;
    latencies_us_.push_back(static_cast<double>(received) - sent);
    if (unique_ >= expect_) done_.notify_all();
  }

  // Waits for all expected readings; false when it gave up (idle or overall timeout). With
  // `window_s` > 0 it stops counting that long after the first reading instead (a rate over a
  // fixed window) and answers true.
  bool wait(double idle_s, double total_s, double window_s) {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(total_s));
    const auto idle =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(idle_s));
    std::unique_lock lock(mutex_);
    last_message_ = Clock::now();
    while (unique_ < expect_) {
      auto until = std::min(deadline, last_message_ + idle);
      if (window_s > 0 && unique_ > 0) {
        const auto end =
            Clock::time_point(std::chrono::microseconds(first_us_)) +
            std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(window_s));
        if (Clock::now() >= end) {
          counting_ = false;
          return true;
        }
        until = std::min(until, end);
      }
      if (Clock::now() >= until) return false;
      done_.wait_until(lock, until);
    }
    return true;
  }

  void print() {
    std::lock_guard lock(mutex_);
    std::sort(latencies_us_.begin(), latencies_us_.end());
    auto pct = [&](double p) {
      if (latencies_us_.empty()) return 0.0;
      const auto i = static_cast<std::size_t>(p * static_cast<double>(latencies_us_.size() - 1));
      return latencies_us_[i] / 1000.0;
    };
    const double span_s = static_cast<double>(last_us_ - first_us_) / 1e6;
    std::printf(
        "received %ld dup %ld order_breaks %ld foreign %ld rate %.1f msg/s p50 %.2f ms p99 %.2f "
        "ms max %.2f ms\n",
        unique_, duplicates_, order_breaks_, foreign_,
        span_s > 0 ? static_cast<double>(unique_ - 1) / span_s : 0.0, pct(0.50), pct(0.99),
        pct(1.0));
    std::fflush(stdout);
  }

 private:
  const long expect_;
  std::mutex mutex_;
  std::condition_variable done_;
  Clock::time_point last_message_ = Clock::now();
  std::vector<std::vector<bool>> seen_;
  std::vector<long> last_seq_;
  std::vector<double> latencies_us_;
  long unique_ = 0, duplicates_ = 0, order_breaks_ = 0, foreign_ = 0;
  long long first_us_ = 0, last_us_ = 0;
  bool counting_ = true;
};

struct Shared {
  Counter* counter;
  std::string topic;
  std::atomic<bool> subscribed{false};
};

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  long expect = 0;
  std::string topic = "#";
  double idle_s = 30, total_s = 600, window_s = 0;
  std::string session;
  bool subscribe_only = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--port")
      port = std::atoi(argv[i + 1]);
    else if (k == "--expect")
      expect = std::atol(argv[i + 1]);
    else if (k == "--topic")
      topic = argv[i + 1];
    else if (k == "--idle-timeout")
      idle_s = std::atof(argv[i + 1]);
    else if (k == "--timeout")
      total_s = std::atof(argv[i + 1]);
    else if (k == "--window")
      window_s = std::atof(argv[i + 1]);
    else if (k == "--session")
      session = argv[i + 1];
    else if (k == "--subscribe-only")
      subscribe_only = std::string_view(argv[i + 1]) == "yes";
    else {
      std::fprintf(stderr, "reading_counter: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (port <= 0 || expect <= 0) {
    std::fprintf(stderr,
                 "usage: reading_counter --port P --expect M [--topic T] [--idle-timeout S] "
                 "[--timeout S] [--window S]\n");
    return 2;
  }
  mosquitto_lib_init();
  Counter counter(expect);
  Shared shared{&counter, topic, {}};
  mosquitto* m = session.empty() ? mosquitto_new(nullptr, true, &shared)
                                 : mosquitto_new(session.c_str(), false, &shared);
  mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_connect_callback_set(m, [](mosquitto* h, void* self, int rc) {
    if (rc != 0) {
      std::fprintf(stderr, "reading_counter: CONNACK %s\n", mosquitto_connack_string(rc));
      std::exit(1);
    }
    mosquitto_subscribe(h, nullptr, static_cast<Shared*>(self)->topic.c_str(), 1);
  });
  mosquitto_subscribe_callback_set(m, [](mosquitto*, void* self, int, int, const int*) {
    static_cast<Shared*>(self)->subscribed = true;
    std::printf("ready\n");
    std::fflush(stdout);
  });
  mosquitto_message_callback_set(m, [](mosquitto*, void* self, const mosquitto_message* msg) {
    static_cast<Shared*>(self)->counter->message(std::string_view(
        static_cast<const char*>(msg->payload), static_cast<std::size_t>(msg->payloadlen)));
  });
  if (mosquitto_connect(m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS ||
      mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) {
    std::fprintf(stderr, "reading_counter: cannot connect to 127.0.0.1:%d\n", port);
    return 1;
  }
  if (subscribe_only) {
    std::fflush(stdout);
    // `ready` is printed by the SUBACK callback; wait for it, then leave the session behind.
    for (int i = 0; i < 100 && !shared.subscribed; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return shared.subscribed ? 0 : 1;
  }
  const bool all = counter.wait(idle_s, total_s, window_s);
  counter.print();
  mosquitto_disconnect(m);
  mosquitto_loop_stop(m, false);
  mosquitto_destroy(m);
  mosquitto_lib_cleanup();
  return all ? 0 : 3;
}
