#pragma once
// A plain libmosquitto client playing the devices' part in integration tests: publishes QoS 1
// and waits for the broker's PUBACKs, and collects what it receives. Thread: its callbacks run
// on libmosquitto's loop thread; every member may be called from the test thread.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

struct mosquitto;

namespace fieldlink::testing {

class TestMqttClient {
 public:
  using Received = std::pair<std::string, std::string>;  // topic, payload
  // Connects (clean session) and waits for the CONNACK; throws if the broker does not answer.
  TestMqttClient(const std::string& client_id, unsigned short port);
  ~TestMqttClient();
  TestMqttClient(const TestMqttClient&) = delete;
  TestMqttClient& operator=(const TestMqttClient&) = delete;

  void subscribe(const std::string& filter);  // waits for the SUBACK
  void publish(const std::string& topic, const std::string& payload, bool retain = false);
  // True once every publish so far is acknowledged by the broker.
  bool wait_acked(std::chrono::milliseconds timeout);
  // The first `n` received messages, once there are that many; empty at the deadline.
  std::vector<Received> wait_received(size_t n, std::chrono::milliseconds timeout);
  // Called on the loop thread for each message (before it is stored).
  void on_message(std::function<void(TestMqttClient&, const Received&)> f);

 private:
  mosquitto* handle_ = nullptr;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool connected_ = false;
  int subacks_ = 0;
  int published_ = 0;
  int acked_ = 0;
  std::vector<Received> received_;
  std::function<void(TestMqttClient&, const Received&)> handler_;
};

}  // namespace fieldlink::testing
