// Simulated field devices for the throughput benchmark: N devices publish sequence-numbered
// 120-byte JSON readings at QoS 1 to a local broker, over C libmosquitto connections (devices are
// spread over the connections; each device's readings stay on one connection, so in order).
// Either as fast as the broker acknowledges (--messages M) or at a fixed total rate
// (--rate R --seconds S). Each reading carries the publisher's CLOCK_MONOTONIC time in µs so
// the counter on the far side can measure end-to-end latency on the same machine.
//
//   reading_publisher --port P [--devices 100] [--connections 4] [--window 100]
//                     (--messages M | --rate R --seconds S) [--prefix plant]
// Prints one line: `published N in T s (R msg/s)`. Exit 1 if the broker is unreachable.
#include <mosquitto.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int port = 0;
  int devices = 100;
  int connections = 4;
  int window = 100;
  long messages = 0;
  double rate = 0;
  double seconds = 0;
  std::string prefix = "plant";
};

constexpr std::size_t kReadingBytes = 120;

long long now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
      .count();
}

// {"dev":D,"seq":S,"t_us":T,"pad":"xx…"} padded to exactly kReadingBytes.
std::string reading(int dev, long seq) {
  char head[96];
  const int n = std::snprintf(head, sizeof head, R"({"dev":%d,"seq":%ld,"t_us":%lld,"pad":")", dev,
                              seq, now_us());
  std::string out(head, static_cast<std::size_t>(n));
  out.append(kReadingBytes - out.size() - 2, 'x');
  out += "\"}";
  return out;
}

// One connection: its own libmosquitto thread; at most `window` readings unacknowledged.
class Connection {
 public:
  Connection(const Options& o, int index) : window_(o.window) {
    const std::string id = "bench-pub-" + std::to_string(::getpid()) + "-" + std::to_string(index);
    handle_ = mosquitto_new(id.c_str(), true, this);
    mosquitto_int_option(handle_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_max_inflight_messages_set(handle_, static_cast<unsigned>(o.window));
    mosquitto_connect_callback_set(handle_, [](mosquitto*, void* self, int rc) {
      static_cast<Connection*>(self)->connected(rc);
    });
    mosquitto_publish_callback_set(
        handle_, [](mosquitto*, void* self, int) { static_cast<Connection*>(self)->acked(); });
    if (mosquitto_connect(handle_, "127.0.0.1", o.port, 60) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(handle_) != MOSQ_ERR_SUCCESS) {
      std::fprintf(stderr, "reading_publisher: cannot connect to 127.0.0.1:%d\n", o.port);
      std::exit(1);
    }
  }
  ~Connection() {
    mosquitto_disconnect(handle_);
    mosquitto_loop_stop(handle_, false);
    mosquitto_destroy(handle_);
  }

  bool wait_connected() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return connected_; });
  }

  void publish(const std::string& topic, const std::string& payload) {
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return outstanding_ < window_; });
      ++outstanding_;
    }
    mosquitto_publish(handle_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                      payload.data(), 1, false);
  }

  void wait_all_acked() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return outstanding_ == 0; });
  }

 private:
  void connected(int rc) {
    if (rc != 0) {
      std::fprintf(stderr, "reading_publisher: CONNACK %s\n", mosquitto_connack_string(rc));
      std::exit(1);
    }
    std::lock_guard lock(mutex_);
    connected_ = true;
    changed_.notify_all();
  }
  void acked() {
    std::lock_guard lock(mutex_);
    --outstanding_;
    changed_.notify_all();
  }

  mosquitto* handle_ = nullptr;
  const int window_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool connected_ = false;
  int outstanding_ = 0;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--port")
      o.port = std::atoi(v);
    else if (k == "--devices")
      o.devices = std::atoi(v);
    else if (k == "--connections")
      o.connections = std::atoi(v);
    else if (k == "--window")
      o.window = std::atoi(v);
    else if (k == "--messages")
      o.messages = std::atol(v);
    else if (k == "--rate")
      o.rate = std::atof(v);
    else if (k == "--seconds")
      o.seconds = std::atof(v);
    else if (k == "--prefix")
      o.prefix = v;
    else {
      std::fprintf(stderr, "reading_publisher: unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  if (o.port <= 0 || o.devices <= 0 || o.connections <= 0 || o.window <= 0 ||
      (o.messages <= 0 && (o.rate <= 0 || o.seconds <= 0))) {
    std::fprintf(stderr,
                 "usage: reading_publisher --port P [--devices N] [--connections C] [--window W]"
                 " (--messages M | --rate R --seconds S) [--prefix plant]\n");
    std::exit(2);
  }
  o.connections = std::min(o.connections, o.devices);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  // Reading k overall goes to device k % devices; in rate mode the total is rate × seconds.
  const long total = o.messages > 0 ? o.messages : static_cast<long>(o.rate * o.seconds);
  mosquitto_lib_init();
  std::vector<std::unique_ptr<Connection>> connections;
  for (int c = 0; c < o.connections; ++c)
    connections.push_back(std::make_unique<Connection>(o, c));
  for (auto& c : connections) {
    if (!c->wait_connected()) {
      std::fprintf(stderr, "reading_publisher: no CONNACK within 10 s\n");
      return 1;
    }
  }
  std::vector<std::string> topics;
  for (int d = 0; d < o.devices; ++d)
    topics.push_back(o.prefix + "/s" + std::to_string(d) + "/telemetry");

  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int c = 0; c < o.connections; ++c) {
    workers.emplace_back([&, c] {
      // This connection's share: readings k with (k % devices) % connections == c, in k order,
      // each sent at its slot of the global schedule when a rate is set.
      for (long k = 0; k < total; ++k) {
        const int dev = static_cast<int>(k % o.devices);
        if (dev % o.connections != c) continue;
        if (o.rate > 0) {
          std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                    std::chrono::duration<double>(k / o.rate)));
        }
        connections[static_cast<std::size_t>(c)]->publish(topics[static_cast<std::size_t>(dev)],
                                                          reading(dev, k / o.devices));
      }
      connections[static_cast<std::size_t>(c)]->wait_all_acked();
    });
  }
  for (auto& w : workers)
    w.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("published %ld in %.2f s (%.0f msg/s)\n", total, elapsed, total / elapsed);
  connections.clear();
  mosquitto_lib_cleanup();
  return 0;
}
