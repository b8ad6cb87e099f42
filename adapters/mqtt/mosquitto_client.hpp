#pragma once
// The real BrokerClient over libmosquitto 2.0 (see broker_client.hpp for the contract).
//
// Why a thread of our own instead of `mosquitto_loop_start`: libmosquitto's loop thread ends for
// good on errors it calls fatal (a TLS failure or a refused CONNACK while the broker restarts),
// which would leave the adapter silent until the daemon restarts. Our thread runs
// `mosquitto_loop_forever` (which reconnects after ordinary losses) inside a loop of its own that
// backs off and starts it again after those. `mosquitto_threaded_set(true)` keeps libmosquitto
// in its threaded mode, in which packets (PUBACKs included) are only queued by the reading code
// and written after the read pass returns — the property MqttAdapter relies on.
//
// Note: `mosquitto_new` makes the process ignore SIGPIPE (design.md §10).
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "adapters/mqtt/broker_client.hpp"

struct mosquitto;
struct mosquitto_message;

namespace fieldlink::mqtt {

class MosquittoClient final : public BrokerClient {
 public:
  explicit MosquittoClient(BrokerEndpoint endpoint);
  ~MosquittoClient() override;  // stops if still running
  MosquittoClient(const MosquittoClient&) = delete;
  MosquittoClient& operator=(const MosquittoClient&) = delete;

  BrokerStatus start(Events events) override;
  void stop() override;
  BrokerStatus subscribe(const std::vector<std::string>& filters) override;
  BrokerStatus publish(const std::string& topic, std::string_view payload,
                       int& message_id) override;
  void cut() override;

 private:
  struct HandleDeleter {
    void operator()(mosquitto* m) const;
  };
  using Handle = std::unique_ptr<mosquitto, HandleDeleter>;

  static void on_connect(mosquitto*, void* self, int rc, int flags) noexcept;
  static void on_disconnect(mosquitto*, void* self, int rc) noexcept;
  static void on_message(mosquitto*, void* self, const mosquitto_message* message) noexcept;
  static void on_publish(mosquitto*, void* self, int mid) noexcept;
  void run();

  BrokerEndpoint endpoint_;
  Events events_;
  Handle handle_;
  std::thread thread_;
  std::mutex mutex_;  // guards stopping_ for the back-off wait between loop restarts
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace fieldlink::mqtt
