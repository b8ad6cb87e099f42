#include "test_mqtt_client.hpp"

#include <mosquitto.h>

#include <stdexcept>

namespace fieldlink::testing {

TestMqttClient::TestMqttClient(const std::string& client_id, unsigned short port) {
  mosquitto_lib_init();
  handle_ = mosquitto_new(client_id.c_str(), true, this);
  mosquitto_connect_callback_set(handle_, [](mosquitto*, void* self, int rc) {
    auto& c = *static_cast<TestMqttClient*>(self);
    std::lock_guard lock(c.mutex_);
    c.connected_ = rc == 0;
    c.changed_.notify_all();
  });
  mosquitto_subscribe_callback_set(handle_, [](mosquitto*, void* self, int, int, const int*) {
    auto& c = *static_cast<TestMqttClient*>(self);
    std::lock_guard lock(c.mutex_);
    ++c.subacks_;
    c.changed_.notify_all();
  });
  mosquitto_publish_callback_set(handle_, [](mosquitto*, void* self, int) {
    auto& c = *static_cast<TestMqttClient*>(self);
    std::lock_guard lock(c.mutex_);
    ++c.acked_;
    c.changed_.notify_all();
  });
  mosquitto_message_callback_set(handle_, [](mosquitto*, void* self, const mosquitto_message* m) {
    auto& c = *static_cast<TestMqttClient*>(self);
    Received r{m->topic, std::string(static_cast<const char*>(m->payload),
                                     static_cast<size_t>(m->payloadlen))};
    if (c.handler_) c.handler_(c, r);
    std::lock_guard lock(c.mutex_);
    c.received_.push_back(std::move(r));
    c.changed_.notify_all();
  });
  if (mosquitto_connect(handle_, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS ||
      mosquitto_loop_start(handle_) != MOSQ_ERR_SUCCESS) {
    throw std::runtime_error("test client cannot connect");
  }
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, std::chrono::seconds(10), [this] { return connected_; })) {
    throw std::runtime_error("test client got no CONNACK");
  }
}

TestMqttClient::~TestMqttClient() {
  mosquitto_disconnect(handle_);
  mosquitto_loop_stop(handle_, false);
  mosquitto_destroy(handle_);
}

void TestMqttClient::subscribe(const std::string& filter) {
  std::unique_lock lock(mutex_);
  const int want = subacks_ + 1;
  lock.unlock();
  mosquitto_subscribe(handle_, nullptr, filter.c_str(), 1);
  lock.lock();
  if (!changed_.wait_for(lock, std::chrono::seconds(10), [&] { return subacks_ >= want; })) {
    throw std::runtime_error("no SUBACK for " + filter);
  }
}

void TestMqttClient::publish(const std::string& topic, const std::string& payload, bool retain) {
  {
    std::lock_guard lock(mutex_);
    ++published_;
  }
  if (mosquitto_publish(handle_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                        payload.data(), 1, retain) != MOSQ_ERR_SUCCESS) {
    throw std::runtime_error("publish failed");
  }
}

bool TestMqttClient::wait_acked(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] { return acked_ >= published_; });
}

std::vector<TestMqttClient::Received> TestMqttClient::wait_received(
    size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, timeout, [&] { return received_.size() >= n; })) return {};
  return {received_.begin(), received_.begin() + static_cast<long>(n)};
}

void TestMqttClient::on_message(std::function<void(TestMqttClient&, const Received&)> f) {
  handler_ = std::move(f);
}

}  // namespace fieldlink::testing
