#include "adapters/mqtt/local_broker_client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <variant>

namespace fieldlink::mqtt {
namespace {

using namespace std::chrono_literals;
namespace wire = hub::mqtt;

constexpr auto kOpenTimeout = 10s;  // TCP connect, and CONNECT to CONNACK
constexpr auto kShortestDelay = std::chrono::milliseconds(100);  // even with reconnect_min 0
constexpr std::size_t kReadChunk = 64 * 1024;
// MQTT's own bound, which libmosquitto accepted too: the broker's message_size_limit is the real
// one, and max_payload decides what is kept (MqttAdapter::skip_too_large). Refusing a bigger
// packet here would only make the broker send it again after every reconnect.
constexpr std::size_t kMaxPacket = 268'435'455;
// Held PUBACKs at which we ask for an early commit: half of mosquitto's default
// max_inflight_messages (20), so the next commit runs while the broker still has room to send.
constexpr std::size_t kHurryAt = 10;

}  // namespace

LocalBrokerClient::LocalBrokerClient(BrokerEndpoint endpoint)
    : endpoint_(std::move(endpoint)), decoder_(kMaxPacket) {}

LocalBrokerClient::~LocalBrokerClient() {
  stop();
}

BrokerStatus LocalBrokerClient::start(Events events) {
  if (endpoint_.tls) return {EPROTONOSUPPORT, "TLS to the local broker goes through libmosquitto"};
  events_ = std::move(events);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return {errno, std::strerror(errno)};
  stopping_ = false;
  thread_ = start_network_thread(endpoint_.client_id, [this] { run(); });
  return {};
}

void LocalBrokerClient::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  wake();
  thread_.join();
  ::close(wake_fd_);
  wake_fd_ = -1;
}

BrokerStatus LocalBrokerClient::subscribe(const std::vector<std::string>& filters) {
  std::lock_guard lock(mutex_);
  if (!connected_) return {ENOTCONN, "not connected to the broker"};
  if (filters.empty()) return {};  // MQTT has no empty SUBSCRIBE
  wire::Subscribe s;
  s.packet_id = next_packet_id();
  for (const auto& f : filters)
    s.filters.emplace_back(f, 1);
  outbox_ += wire::encode(s);
  wake();
  return {};
}

BrokerStatus LocalBrokerClient::publish(const std::string& topic, std::string_view payload,
                                        int& message_id) {
  std::lock_guard lock(mutex_);
  if (in_flight_.size() >= 0xffff) return {ENOBUFS, "65,535 publishes already wait for the broker"};
  wire::Publish p;
  p.topic = topic;
  p.qos = 1;
  p.packet_id = next_packet_id();
  // While disconnected it waits in in_flight_ and goes out after the next CONNACK.
  InFlight f{p.packet_id, wire::encode_publish(p, payload), connected_};
  if (connected_) {
    outbox_ += f.packet;
    wake();
  }
  in_flight_.push_back(std::move(f));
  message_id = p.packet_id;
  return {};
}

void LocalBrokerClient::cut() {
  cut_ = true;
  wake();
}

void LocalBrokerClient::acks_released() {
  if (thread_.joinable()) wake();
}

std::uint16_t LocalBrokerClient::next_packet_id() {
  // Fewer than 65,535 are in flight (publish checks), so a free one is always found.
  while (true) {
    if (++last_id_ == 0) last_id_ = 1;
    const auto used = std::any_of(in_flight_.begin(), in_flight_.end(),
                                  [this](const InFlight& f) { return f.id == last_id_; });
    if (!used) return last_id_;
  }
}

void LocalBrokerClient::wake() {
  const std::uint64_t one = 1;
  // Cannot fail but by overflowing the counter, which a pending wake-up already covers.
  (void)!::write(wake_fd_, &one, sizeof one);
}

short LocalBrokerClient::wait(short events, Clock::time_point deadline) {
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {fd_, events, 0}};
  const nfds_t count = fd_ >= 0 && events != 0 ? 2 : 1;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (::poll(fds, count, static_cast<int>(std::clamp<long long>(left, 0, INT_MAX))) <= 0) return 0;
  if (fds[0].revents & POLLIN) {
    std::uint64_t n = 0;
    (void)!::read(wake_fd_, &n, sizeof n);
  }
  return count == 2 ? fds[1].revents : 0;
}

void LocalBrokerClient::close_socket() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void LocalBrokerClient::run() {
  std::chrono::milliseconds delay = endpoint_.reconnect_min;
  while (!stopping_) {
    const auto ended = session();
    close_socket();
    {
      std::lock_guard lock(mutex_);
      connected_ = false;
      // Publishes in it are in in_flight_ too and go again after the next CONNACK; a SUBSCRIBE
      // is made again by the adapter on that connect.
      outbox_.clear();
    }
    if (stopping_) return;
    if (ended.was_up) delay = endpoint_.reconnect_min;
    if (ended.report && events_.disconnected) events_.disconnected(ended.why);
    const auto until = Clock::now() + std::max(delay, kShortestDelay);
    while (!stopping_ && Clock::now() < until)
      wait(0, until);
    delay = std::min(delay * 2, std::chrono::milliseconds(endpoint_.reconnect_max));
  }
}

LocalBrokerClient::Ended LocalBrokerClient::session() {
  cut_ = false;  // a cut asked for between connections has nothing left to cut
  if (auto why = open_socket()) return {"cannot connect: " + *why, !stopping_, false};
  in_.assign(kReadChunk, '\0');
  in_begin_ = in_end_ = 0;
  // The broker sends what the last connection left unacknowledged again.
  held_.clear();
  readable_ = false;
  ping_deadline_.reset();

  wire::Connect connect;
  connect.client_id = endpoint_.client_id;
  if (!endpoint_.username.empty()) connect.username = endpoint_.username;
  if (!endpoint_.password.empty()) connect.password = endpoint_.password;
  connect.keepalive_seconds =
      static_cast<std::uint16_t>(std::clamp<long long>(endpoint_.keepalive.count(), 0, 0xffff));
  // clean_session=false: the broker keeps our subscriptions and the QoS 1 messages for us while
  // we are away (a restart of the daemon or of the broker with persistence).
  connect.clean_session = false;
  out_ = wire::encode(connect);
  bool up = false;
  const auto connack_deadline = Clock::now() + kOpenTimeout;
  std::string why;
  while (true) {
    if (cut_) return disconnect(cut_ending(up));
    if (up) {
      std::lock_guard lock(mutex_);
      out_ += outbox_;
      outbox_.clear();
    }
    if (stopping_) return disconnect(Ended{"", false, up});
    release_acks();
    if (!write_some(why)) return {why, true, up};
    if (readable_) {
      if (!read_some(why)) return {why, true, up};
      if (auto ended = handle_packets(up)) return *ended;
      if (held_.size() >= kHurryAt && events_.hurry) events_.hurry();
      release_acks();
      if (!out_.empty() || readable_) continue;
    }
    const auto now = Clock::now();
    Clock::time_point deadline = now + 1h;
    if (!up) {
      if (now >= connack_deadline) return {"no CONNACK within 10 s", true, false};
      deadline = connack_deadline;
    } else if (endpoint_.keepalive.count() > 0) {
      if (ping_deadline_) {
        if (now >= *ping_deadline_) return {"no PINGRESP within the keepalive", true, true};
        deadline = *ping_deadline_;
      } else if (now >= last_sent_ + endpoint_.keepalive) {
        out_ += wire::encode_pingreq();
        ping_deadline_ = now + endpoint_.keepalive;
        continue;
      } else {
        deadline = last_sent_ + endpoint_.keepalive;
      }
    }
    const auto ready = wait(static_cast<short>(POLLIN | (out_.empty() ? 0 : POLLOUT)), deadline);
    if (ready & (POLLIN | POLLHUP | POLLERR)) readable_ = true;
  }
}

LocalBrokerClient::Ended LocalBrokerClient::cut_ending(bool up) {
  return {"the connection was cut to pause the session", true, up};
}

// Ends a connection on our side (stop, cut): what out_ holds (the PUBACKs of messages already
// handed over) is written, then DISCONNECT; the broker keeps what is unacknowledged for the
// session. Then we read until the broker closes (at most a second): closing with unread data in
// the socket would send a reset, and the broker could lose those PUBACKs before reading them
// and send their messages again (seen in LocalBrokerClient tests, 2 runs in 20).
LocalBrokerClient::Ended LocalBrokerClient::disconnect(Ended ended) {
  if (!ended.was_up) return ended;  // nothing was acknowledged or delivered yet
  // Held or not: their readings are in the sink, and a clean stop drains it into the journal.
  for (const auto& h : held_)
    out_ += wire::encode(wire::Puback{h.packet_id});
  held_.clear();
  out_ += wire::encode_disconnect();
  const auto until = Clock::now() + 1s;
  std::string why;
  while (!out_.empty() && write_some(why) && Clock::now() < until)
    wait(POLLOUT, until);
  ::shutdown(fd_, SHUT_WR);
  char discard[4096];
  while (Clock::now() < until) {
    const auto n = ::read(fd_, discard, sizeof discard);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
    if (n < 0) wait(POLLIN, until);
  }
  return ended;
}

std::optional<std::string> LocalBrokerClient::open_socket() {
  const auto deadline = Clock::now() + kOpenTimeout;
  const auto attempt = [&](int family, const sockaddr* address,
                           socklen_t length) -> std::optional<std::string> {
    fd_ = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return std::strerror(errno);
    if (::connect(fd_, address, length) == 0) return std::nullopt;
    if (errno != EINPROGRESS) {
      const int e = errno;
      close_socket();
      return std::strerror(e);
    }
    while (!stopping_ && Clock::now() < deadline) {
      if ((wait(POLLOUT, deadline) & (POLLOUT | POLLERR | POLLHUP)) == 0) continue;
      int error = 0;
      socklen_t size = sizeof error;
      ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &size);
      if (error == 0) return std::nullopt;
      close_socket();
      return std::strerror(error);
    }
    close_socket();
    return stopping_ ? "stopping" : "no answer within 10 s";
  };

  if (!endpoint_.unix_socket.empty()) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (endpoint_.unix_socket.size() >= sizeof address.sun_path) return "socket path too long";
    std::memcpy(address.sun_path, endpoint_.unix_socket.c_str(), endpoint_.unix_socket.size() + 1);
    return attempt(AF_UNIX, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const auto port = std::to_string(endpoint_.port);
  if (const int rc = ::getaddrinfo(endpoint_.host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return std::string("cannot resolve ") + endpoint_.host + ": " + ::gai_strerror(rc);
  std::optional<std::string> why = "no address";
  for (auto* a = found; a && why; a = a->ai_next)
    why = attempt(a->ai_family, a->ai_addr, a->ai_addrlen);
  ::freeaddrinfo(found);
  if (!why) {
    const int on = 1;
    // PUBACKs are small and must not wait for Nagle's timer while the broker holds its window.
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  }
  return why;
}

bool LocalBrokerClient::read_some(std::string& why) {
  if (in_begin_ == in_end_) {
    in_begin_ = in_end_ = 0;
    // A packet bigger than the usual buffer has gone: give its memory back.
    if (in_.size() > kReadChunk) in_.assign(kReadChunk, '\0');
  } else if (in_.size() - in_end_ < kReadChunk / 4) {
    // Part of a packet waits at the end: move it to the front, and grow only if it fills it all.
    std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
    if (in_.size() - in_end_ < kReadChunk / 4) in_.resize(in_.size() * 2);
  }
  const auto room = in_.size() - in_end_;
  const auto n = ::read(fd_, in_.data() + in_end_, room);
  if (n > 0) {
    in_end_ += static_cast<std::size_t>(n);
    // A short read emptied the socket: poll before reading again instead of a read that would
    // only say EAGAIN.
    readable_ = static_cast<std::size_t>(n) == room;
    return true;
  }
  readable_ = false;
  if (n == 0) {
    why = "the broker closed the connection";
    return false;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
  why = std::string("cannot read from the broker: ") + std::strerror(errno);
  return false;
}

bool LocalBrokerClient::write_some(std::string& why) {
  while (!out_.empty()) {
    const auto n = ::send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
    if (n > 0) {
      out_.erase(0, static_cast<std::size_t>(n));
      last_sent_ = Clock::now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    why = std::string("cannot write to the broker: ") + std::strerror(errno);
    return false;
  }
  return true;
}

void LocalBrokerClient::release_acks() {
  if (held_.empty()) return;
  const auto durable = events_.durable ? events_.durable() : UINT64_MAX;
  while (!held_.empty() && held_.front().mark <= durable) {
    out_ += wire::encode(wire::Puback{held_.front().packet_id});
    held_.pop_front();
  }
}

std::optional<LocalBrokerClient::Ended> LocalBrokerClient::handle_packets(bool& up) {
  while (true) {
    std::size_t used = 0;
    wire::ServerPacket packet;
    const auto status = decoder_.decode(
        std::string_view(in_.data() + in_begin_, in_end_ - in_begin_), used, packet);
    if (status == wire::PacketDecoder::Status::need_more) return std::nullopt;
    if (status == wire::PacketDecoder::Status::error)
      return Ended{"protocol error from the broker: " + decoder_.error(), true, up};
    in_begin_ += used;

    if (auto* p = std::get_if<wire::Publish>(&packet)) {
      if (!up) return Ended{"protocol error from the broker: PUBLISH before CONNACK", true, up};
      if (p->qos > 1) return Ended{"the broker sent QoS 2, which was not asked for", true, up};
      if (events_.message) events_.message(InboundMessage{p->topic, p->payload, p->qos, p->retain});
      // Cut from inside this event: this message and the rest of the pass stay unacknowledged.
      if (cut_) return disconnect(cut_ending(up));
      // Held until what the event pushed is durable (written at the earliest after the pass).
      if (p->qos == 1) held_.push_back({p->packet_id, events_.hold ? events_.hold() : 0});
    } else if (auto* ack = std::get_if<wire::Puback>(&packet)) {
      bool ours = false;
      {
        std::lock_guard lock(mutex_);
        const auto it = std::find_if(in_flight_.begin(), in_flight_.end(),
                                     [&](const InFlight& f) { return f.id == ack->packet_id; });
        if (it != in_flight_.end()) {
          in_flight_.erase(it);
          ours = true;
        }
      }
      if (ours && events_.published) events_.published(ack->packet_id);
    } else if (auto* connack = std::get_if<wire::Connack>(&packet)) {
      if (up) return Ended{"protocol error from the broker: a second CONNACK", true, up};
      if (connack->return_code != 0) {
        if (events_.connected)
          events_.connected(false, false, wire::connack_text(connack->return_code));
        return Ended{"refused", false, false};
      }
      up = true;
      {
        std::lock_guard lock(mutex_);
        connected_ = true;
        // What the broker has not acknowledged goes again, in the order it was published; a
        // packet sent before is marked DUP.
        for (auto& f : in_flight_) {
          outbox_ += f.packet;
          if (f.sent) outbox_[outbox_.size() - f.packet.size()] |= 0x08;
          f.sent = true;
        }
      }
      if (events_.connected) events_.connected(true, connack->session_present, "");
    } else if (std::holds_alternative<wire::Pingresp>(packet)) {
      ping_deadline_.reset();
    }
    // A SUBACK needs nothing: a filter the broker refused (0x80) shows as messages that never
    // come, as it did with libmosquitto, which reported it to no one either.
  }
}

}  // namespace fieldlink::mqtt
