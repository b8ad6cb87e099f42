#include "adapters/mqtt/broker_client.hpp"

#include <pthread.h>

#include "adapters/mqtt/local_broker_client.hpp"

namespace fieldlink::mqtt {

std::unique_ptr<BrokerClient> make_broker_client(BrokerEndpoint endpoint) {
  if (endpoint.tls) return make_mosquitto_client(std::move(endpoint));
  return std::make_unique<LocalBrokerClient>(std::move(endpoint));
}

std::thread start_network_thread(const std::string& client_id, std::function<void()> body) {
  std::thread thread(std::move(body));
  pthread_setname_np(thread.native_handle(), ("mqtt " + client_id).substr(0, 15).c_str());
  return thread;
}

}  // namespace fieldlink::mqtt
