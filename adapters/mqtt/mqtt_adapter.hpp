#pragma once
// The local-MQTT adapter (`type: mqtt`): a persistent QoS 1 session on the plant's own broker.
// Uplink: each message on a configured filter becomes a Reading under `mqtt://<adapter>/<key>`;
// messages on `reported_topic` become `ReadingKind::reported` readings. Downlink: C2D, desired
// patches and direct methods are published to the device's topics; a method is answered by the
// device on `<request topic>/res[/<status>]` or with 504 at the command's deadline.
//
// Threads:
//  - Adapter members (start, stop, execute, describe) run on the core loop, as do OutcomeHandlers
//    and the device table (presence, counters).
//  - Incoming messages are handled on the BrokerClient's network thread. The reading is pushed
//    into `context.sink` synchronously there, before the callback returns: the client writes the
//    QoS 1 PUBACK only after the callback (broker_client.hpp), and LocalBrokerClient only once
//    the sink says the reading is durable (ReadingSink::mark/durable), so what the broker has
//    been acknowledged is in the journal. (Over TLS libmosquitto acknowledges on receipt: there
//    a SIGKILL can lose what was not committed yet.) The sink is therefore called
//    from the network thread (messages) and from the core loop (presence readings): it must be
//    thread-safe. `context.clock` is read from both threads as well.
//  - What the network thread has for the core loop (device counters, logs, method answers) goes
//    through one inbox, in order; a handler is posted only when the inbox was empty, so a busy
//    loop takes many messages per handler.
//  - The daemon's sink makes this thread wait while the journal's intake is full (so the broker
//    holds the stream back for us); it answers backpressure only when the daemon is stopping or
//    the journal has made no room for a long time.
//  - If the sink answers backpressure, the adapter cuts the connection before the PUBACK leaves
//    and ignores the rest of that connection's messages: the broker keeps them for the
//    persistent session and sends them again when the client reconnects (after reconnect_min).
//    So backpressure pauses consumption instead of losing data; readings accepted in the same
//    read pass may arrive twice (at-least-once).
// Errors: nothing throws after construction; failures are logged and counted (describe()).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/mqtt/broker_client.hpp"
#include "adapters/mqtt/device_table.hpp"
#include "adapters/mqtt/mqtt_settings.hpp"
#include "core/adapter.hpp"

namespace boost::asio {
class io_context;
}

namespace fieldlink::mqtt {

class MqttAdapter final : public Adapter {
 public:
  using ClientFactory = std::function<std::unique_ptr<BrokerClient>(BrokerEndpoint)>;

  MqttAdapter(AdapterContext context, std::shared_ptr<const MqttSettings> settings,
              ClientFactory make_client = make_broker_client);
  ~MqttAdapter() override;  // stops the client (joins its thread) if stop() was not called

  const AdapterName& name() const override { return settings_->name; }
  void start() override;
  void stop(std::function<void()> done) override;
  void execute(const Command& command, OutcomeHandler handler) override;
  // { "type", "broker", "connected", "connects", "disconnects", "readings", "invalid",
  //   "unattributed_invalid", "too_large", "unmatched", "backpressure", "retained_skipped",
  //   "methods_pending", "devices": { <key>: {...} } }
  void describe(nlohmann::json& out) const override;

 private:
  struct Pending;
  struct Timer;
  enum class Gate { backpressure, disconnected, unattributed };
  // What the network thread hands to the core loop, in the order it happened: a message to
  // count for its device, or (rarely) other work, which must not overtake the messages before it.
  struct Handover {
    std::string key{};  // "" for a message of no known device
    bool valid = true;
    bool reported = false;
    std::string why{};             // an invalid message: its topic and what is wrong with it
    std::function<void()> work{};  // set: run this instead
  };

  // Network thread.
  void on_connected(bool accepted, bool session_present, const std::string& why);
  void on_message(const InboundMessage& message);
  void deliver(const std::string& key, std::vector<std::pair<std::string, Value>> values,
               ReadingKind kind);
  void reject(const std::string& key, std::string_view topic, std::string why);
  void skip_too_large(const InboundMessage& message);
  std::string topic_device_key(std::string_view topic) const;
  bool method_answer(const InboundMessage& message);

  // Network thread: queue for the core loop.
  template <class F>
  void on_loop(F&& work);
  void hand_over(Handover item);

  // Core loop.
  void take_inbox();
  void observe(const std::string& key, bool valid, bool reported, const std::string& why);
  void flush_presence();
  void arm_presence_timer();
  void complete(std::map<std::string, Pending>& table, const std::string& id, Outcome outcome);
  void watch_deadline(std::map<std::string, Pending>& table, const std::string& id,
                      std::chrono::steady_clock::time_point deadline);
  bool log_allowed(const std::string& gate_key);

  AdapterContext context_;
  std::shared_ptr<const MqttSettings> settings_;
  ClientFactory make_client_;
  std::string broker_text_;
  std::shared_ptr<int> life_ = std::make_shared<int>(0);  // posts check it before touching us

  // Derived from method_topic/reported_topic: filters that match answers and reported patches.
  std::optional<TopicFilter> answer_filter_;
  bool device_before_method_ = true;
  std::optional<TopicFilter> reported_filter_;
  std::vector<std::string> subscriptions_;

  // Network thread only.
  bool fresh_session_ = true;
  bool refusing_ = false;

  // One post per batch, not per message: the network thread posts take_inbox only when it finds
  // the inbox empty, so while the loop is busy messages queue here and are taken together.
  std::mutex inbox_mutex_;
  std::vector<Handover> inbox_;  // guarded by inbox_mutex_

  // Counted on the network thread, read by describe().
  std::atomic<std::uint64_t> readings_{0}, unmatched_{0}, backpressure_{0}, retained_skipped_{0},
      too_large_{0};

  // Core loop only.
  std::vector<Handover> taking_;  // the inbox being taken; swapped with it to keep both capacities
  DeviceTable devices_;
  bool connected_ = false;
  bool stopped_ = false;
  std::uint64_t connects_ = 0, disconnects_ = 0, unattributed_invalid_ = 0;
  std::uint64_t next_request_ = 1;
  std::map<std::string, Pending> methods_;    // by request id
  std::map<std::string, Pending> publishes_;  // C2D and desired, by message id
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, std::uint64_t>>
      log_gates_;  // next allowed time, suppressed count
  std::unique_ptr<Timer> presence_timer_;

  std::unique_ptr<BrokerClient> client_;  // its thread calls into the members above
  std::shared_ptr<void> durable_watch_;   // wakes client_ when held PUBACKs may go
};

}  // namespace fieldlink::mqtt
