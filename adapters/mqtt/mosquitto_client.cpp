#include "adapters/mqtt/mosquitto_client.hpp"

#include <mosquitto.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace fieldlink::mqtt {
namespace {

// libmosquitto needs one process-wide init; it is idempotent state of the library, not ours.
void init_library() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

BrokerStatus status_of(int rc) {
  if (rc == MOSQ_ERR_SUCCESS) return {};
  if (rc == MOSQ_ERR_ERRNO) return {rc, std::strerror(errno)};
  return {rc, mosquitto_strerror(rc)};
}

}  // namespace

void MosquittoClient::HandleDeleter::operator()(mosquitto* m) const {
  mosquitto_destroy(m);
}

MosquittoClient::MosquittoClient(BrokerEndpoint endpoint) : endpoint_(std::move(endpoint)) {}

MosquittoClient::~MosquittoClient() {
  stop();
}

BrokerStatus MosquittoClient::start(Events events) {
  init_library();
  events_ = std::move(events);
  // clean_session=false: the broker keeps our subscriptions and the QoS 1 messages for us while
  // we are away (a restart of the daemon or of the broker with persistence).
  handle_.reset(mosquitto_new(endpoint_.client_id.c_str(), false, this));
  if (!handle_) return {MOSQ_ERR_NOMEM, std::strerror(errno)};
  auto* m = handle_.get();
  mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_threaded_set(m, true);
  mosquitto_connect_with_flags_callback_set(m, &MosquittoClient::on_connect);
  mosquitto_disconnect_callback_set(m, &MosquittoClient::on_disconnect);
  mosquitto_message_callback_set(m, &MosquittoClient::on_message);
  mosquitto_publish_callback_set(m, &MosquittoClient::on_publish);
  mosquitto_reconnect_delay_set(m, static_cast<unsigned>(endpoint_.reconnect_min.count()),
                                static_cast<unsigned>(endpoint_.reconnect_max.count()), true);
  if (!endpoint_.username.empty()) {
    if (auto s = status_of(mosquitto_username_pw_set(
            m, endpoint_.username.c_str(),
            endpoint_.password.empty() ? nullptr : endpoint_.password.c_str()));
        !s.ok()) {
      return s;
    }
  }
  if (endpoint_.tls) {
    if (auto s = status_of(
            mosquitto_tls_set(m, endpoint_.ca_file.c_str(), nullptr, nullptr, nullptr, nullptr));
        !s.ok()) {
      return s;
    }
    // Peer and host-name verification on, TLS 1.2 at least (as the hub sessions do).
    if (auto s = status_of(mosquitto_tls_opts_set(m, 1, "tlsv1.2", nullptr)); !s.ok()) return s;
  }
  const bool unix_socket = !endpoint_.unix_socket.empty();
  const int rc = mosquitto_connect_async(
      m, unix_socket ? endpoint_.unix_socket.c_str() : endpoint_.host.c_str(),
      unix_socket ? 0 : endpoint_.port, static_cast<int>(endpoint_.keepalive.count()));
  // A broker that is not up yet is an ordinary state: the loop keeps trying. Only a request the
  // library rejects outright (bad arguments) fails the start.
  if (rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_NOMEM || rc == MOSQ_ERR_NOT_SUPPORTED) {
    return status_of(rc);
  }
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = start_network_thread(endpoint_.client_id, [this] { run(); });
  return {};
}

void MosquittoClient::run() {
  auto delay = endpoint_.reconnect_min;
  while (true) {
    const int rc = mosquitto_loop_forever(handle_.get(), 1000, 1);
    std::unique_lock lock(mutex_);
    if (stopping_) return;
    // The library gave up on its own reconnect loop (TLS error, refused CONNACK, ...): report it,
    // wait, and try again, so a broker restart never needs a daemon restart.
    lock.unlock();
    if (events_.disconnected) events_.disconnected(status_of(rc).text);
    lock.lock();
    if (wake_.wait_for(lock, delay, [this] { return stopping_; })) return;
    lock.unlock();
    delay = std::min(delay * 2, endpoint_.reconnect_max);
    mosquitto_reconnect(handle_.get());  // a failure here is retried by loop_forever
  }
}

void MosquittoClient::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  // Makes loop_forever return (also from its reconnect wait, which watches the same state).
  mosquitto_disconnect(handle_.get());
  thread_.join();
  handle_.reset();
}

BrokerStatus MosquittoClient::subscribe(const std::vector<std::string>& filters) {
  std::vector<char*> list;
  list.reserve(filters.size());
  for (const auto& f : filters)
    list.push_back(const_cast<char*>(f.c_str()));  // libmosquitto does not write them
  return status_of(mosquitto_subscribe_multiple(
      handle_.get(), nullptr, static_cast<int>(list.size()), list.data(), 1, 0, nullptr));
}

BrokerStatus MosquittoClient::publish(const std::string& topic, std::string_view payload,
                                      int& message_id) {
  // While disconnected, libmosquitto queues QoS 1 publishes and sends them after reconnecting.
  return status_of(mosquitto_publish(handle_.get(), &message_id, topic.c_str(),
                                     static_cast<int>(payload.size()), payload.data(), 1, false));
}

void MosquittoClient::cut() {
  // shutdown(), not close(): the descriptor stays libmosquitto's, so it is never reused under it;
  // its next read or write fails and it takes the ordinary connection-lost path.
  if (const int fd = mosquitto_socket(handle_.get()); fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

void MosquittoClient::on_connect(mosquitto*, void* self, int rc, int flags) noexcept {
  auto& c = *static_cast<MosquittoClient*>(self);
  if (c.events_.connected) {
    c.events_.connected(rc == 0, (flags & 1) != 0, rc == 0 ? "" : mosquitto_connack_string(rc));
  }
}

void MosquittoClient::on_disconnect(mosquitto*, void* self, int rc) noexcept {
  auto& c = *static_cast<MosquittoClient*>(self);
  if (rc != 0 && c.events_.disconnected) c.events_.disconnected(mosquitto_strerror(rc));
}

void MosquittoClient::on_message(mosquitto*, void* self,
                                 const mosquitto_message* message) noexcept {
  auto& c = *static_cast<MosquittoClient*>(self);
  if (!c.events_.message) return;
  c.events_.message(
      InboundMessage{message->topic,
                     std::string_view(static_cast<const char*>(message->payload),
                                      static_cast<size_t>(std::max(message->payloadlen, 0))),
                     message->qos, message->retain});
}

void MosquittoClient::on_publish(mosquitto*, void* self, int mid) noexcept {
  auto& c = *static_cast<MosquittoClient*>(self);
  if (c.events_.published) c.events_.published(mid);
}

std::unique_ptr<BrokerClient> make_mosquitto_client(BrokerEndpoint endpoint) {
  return std::make_unique<MosquittoClient>(std::move(endpoint));
}

}  // namespace fieldlink::mqtt
