#include "adapters/ble/sdbus_bluez_link.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <deque>
#include <mutex>
#include <thread>

#include <sdbus-c++/sdbus-c++.h>

namespace fieldlink::ble {

namespace {

using namespace std::chrono_literals;
using Props = std::map<std::string, sdbus::Variant>;
using Managed = std::map<sdbus::ObjectPath, std::map<std::string, Props>>;

constexpr const char* kService = "org.bluez";
constexpr const char* kAdapterIface = "org.bluez.Adapter1";
constexpr const char* kDeviceIface = "org.bluez.Device1";
constexpr const char* kServiceIface = "org.bluez.GattService1";
constexpr const char* kCharIface = "org.bluez.GattCharacteristic1";
constexpr const char* kObjectManager = "org.freedesktop.DBus.ObjectManager";
constexpr std::size_t kMaxQueuedCalls = 1024;
constexpr auto kRetryMin = 200ms;
constexpr auto kRetryMax = 5s;

std::optional<BluezInterface> interface_of(const std::string& name) {
  if (name == kAdapterIface) return BluezInterface::adapter;
  if (name == kDeviceIface) return BluezInterface::device;
  if (name == kServiceIface) return BluezInterface::service;
  if (name == kCharIface) return BluezInterface::characteristic;
  return std::nullopt;
}

template <class T>
std::optional<T> get(const Props& props, const char* name) {
  const auto it = props.find(name);
  // dbusmock and BlueZ versions differ in small ways; a property of an unexpected type is
  // treated as absent rather than trusted.
  if (it == props.end() || !it->second.containsValueOfType<T>()) return std::nullopt;
  return it->second.get<T>();
}

BluezProps to_props(BluezInterface iface, const Props& p) {
  BluezProps out;
  switch (iface) {
    case BluezInterface::adapter:
      out.powered = get<bool>(p, "Powered");
      break;
    case BluezInterface::device: {
      out.address = get<std::string>(p, "Address");
      out.name = get<std::string>(p, "Name");
      if (!out.name) out.name = get<std::string>(p, "Alias");
      if (auto a = get<sdbus::ObjectPath>(p, "Adapter")) out.adapter = *a;
      out.connected = get<bool>(p, "Connected");
      out.services_resolved = get<bool>(p, "ServicesResolved");
      out.rssi = get<std::int16_t>(p, "RSSI");
      out.uuids = get<std::vector<std::string>>(p, "UUIDs");
      if (auto m = get<std::map<std::uint16_t, sdbus::Variant>>(p, "ManufacturerData")) {
        std::map<std::uint16_t, Bytes> data;
        for (const auto& [id, v] : *m) {
          if (v.containsValueOfType<Bytes>()) data[id] = v.get<Bytes>();
        }
        out.manufacturer_data = std::move(data);
      }
      if (auto m = get<std::map<std::string, sdbus::Variant>>(p, "ServiceData")) {
        std::map<std::string, Bytes> data;
        for (const auto& [id, v] : *m) {
          if (v.containsValueOfType<Bytes>()) data[id] = v.get<Bytes>();
        }
        out.service_data = std::move(data);
      }
      break;
    }
    case BluezInterface::service:
      out.uuid = get<std::string>(p, "UUID");
      if (auto d = get<sdbus::ObjectPath>(p, "Device")) out.owner = *d;
      break;
    case BluezInterface::characteristic:
      out.uuid = get<std::string>(p, "UUID");
      if (auto s = get<sdbus::ObjectPath>(p, "Service")) out.owner = *s;
      out.flags = get<std::vector<std::string>>(p, "Flags");
      out.value = get<Bytes>(p, "Value");
      out.notifying = get<bool>(p, "Notifying");
      break;
  }
  return out;
}

BluezResult error_result(const sdbus::Error* e) {
  if (e == nullptr) return {};
  return {e->getName().empty() ? "org.freedesktop.DBus.Error.Failed" : e->getName(),
          e->getMessage(),
          {}};
}

}  // namespace

class SdbusBluezLink::Thread final : public std::enable_shared_from_this<Thread> {
 public:
  using Job = std::function<void()>;

  explicit Thread(boost::asio::io_context& loop) : loop_(loop) {
    wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  }
  ~Thread() {
    if (wake_ >= 0) ::close(wake_);
  }

  void start(BluezEvents& events) {
    events_ = &events;
    alive_ = std::make_shared<bool>(true);
    thread_ = std::thread([this] { run(); });
  }

  void stop() {
    if (alive_) *alive_ = false;  // on the core loop: nothing posted from now on is delivered
    stopping_ = true;
    wake();
    if (thread_.joinable()) thread_.join();
    // Queued jobs hold this object; dropping them breaks that cycle.
    std::lock_guard lock(mutex_);
    jobs_.clear();
  }

  // Queues `job` for the bus thread; false when the queue is full.
  bool submit(Job job) {
    {
      std::lock_guard lock(mutex_);
      if (jobs_.size() >= kMaxQueuedCalls) return false;
      jobs_.push_back(std::move(job));
    }
    wake();
    return true;
  }

  // Runs `f` on the core loop unless the link was stopped first.
  void post(std::function<void()> f) {
    boost::asio::post(loop_, [alive = alive_, f = std::move(f)] {
      if (*alive) f();
    });
  }

  // On the bus thread: an async call whose reply, error or loss reaches `done` exactly once.
  template <class... Args>
  void call(const std::string& path, const char* iface, const char* method,
            std::chrono::milliseconds timeout, Done done, bool returns_bytes, Args&&... args) {
    if (!conn_) {
      post([done = std::move(done)] {
        done({"org.freedesktop.DBus.Error.Disconnected", "not connected to the system bus", {}});
      });
      return;
    }
    const auto id = ++next_call_;
    pending_[id] = std::move(done);
    try {
      auto& proxy = proxy_for(path);
      // The invoker keeps a reference to the method name: it must outlive the invoker.
      const std::string method_name(method);
      auto invoker = proxy.callMethodAsync(method_name).onInterface(iface).withTimeout(timeout);
      if constexpr (sizeof...(Args) > 0) invoker.withArguments(std::forward<Args>(args)...);
      if (returns_bytes) {
        invoker.uponReplyInvoke([this, id](const sdbus::Error* e, Bytes value) {
          auto r = error_result(e);
          r.value = std::move(value);
          finish(id, std::move(r));
        });
      } else {
        invoker.uponReplyInvoke([this, id](const sdbus::Error* e) { finish(id, error_result(e)); });
      }
    } catch (const sdbus::Error& e) {
      finish(id, error_result(&e));
    }
  }

 private:
  void wake() {
    const std::uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
  }

  void finish(std::uint64_t id, BluezResult r) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    auto done = std::move(it->second);
    pending_.erase(it);
    post([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  }

  sdbus::IProxy& proxy_for(const std::string& path) {
    auto& p = proxies_[path];
    if (!p) p = sdbus::createProxy(*conn_, kService, path);
    return *p;
  }

  void run() {
    auto retry = std::chrono::milliseconds(kRetryMin);
    while (!stopping_) {
      if (!conn_) {
        try {
          open_bus();
          retry = kRetryMin;
        } catch (const sdbus::Error& e) {
          lose("cannot open the system bus: " + e.getMessage());
          wait(retry);
          retry = std::min<std::chrono::milliseconds>(retry * 2, kRetryMax);
          continue;
        }
      }
      try {
        run_jobs();
        while (conn_ && conn_->processPendingRequest()) {
        }
        if (!conn_) continue;
        const auto pd = conn_->getEventLoopPollData();
        pollfd fds[2] = {{pd.fd, pd.events, 0}, {wake_, POLLIN, 0}};
        ::poll(fds, 2, pd.getPollTimeout());
        drain_wake();
      } catch (const sdbus::Error& e) {
        lose("the system bus connection failed: " + e.getMessage());
        wait(retry);
      }
    }
    // Leaving: nothing is delivered any more (alive_ is false), so pending calls are dropped.
    pending_.clear();
    slots_.clear();
    proxies_.clear();
    root_.reset();
    conn_.reset();
  }

  void wait(std::chrono::milliseconds d) {
    pollfd fd{wake_, POLLIN, 0};
    ::poll(&fd, 1, static_cast<int>(d.count()));
    drain_wake();
    run_jobs();  // calls made while the bus is away fail at once instead of waiting
  }

  void drain_wake() {
    std::uint64_t n = 0;
    (void)!::read(wake_, &n, sizeof n);
  }

  void run_jobs() {
    std::deque<Job> jobs;
    {
      std::lock_guard lock(mutex_);
      jobs.swap(jobs_);
    }
    for (auto& j : jobs)
      j();
  }

  // Everything known is gone: report it once, fail what is in flight, forget the proxies.
  void lose(const std::string& why) {
    for (auto& [id, done] : pending_) {
      post([done = std::move(done)] {
        done({"org.freedesktop.DBus.Error.Disconnected", "BlueZ went away", {}});
      });
    }
    pending_.clear();
    slots_.clear();
    proxies_.clear();
    root_.reset();
    conn_.reset();
    if (!down_reported_) {
      down_reported_ = true;
      post([e = events_, why] { e->bluez_down(why); });
    }
  }

  void open_bus() {
    conn_ = sdbus::createSystemBusConnection();
    root_ = sdbus::createProxy(*conn_, kService, "/");
    slots_.push_back(conn_->addMatch(
        "type='signal',sender='org.bluez',interface='org.freedesktop.DBus.ObjectManager'",
        [this](sdbus::Message& m) { object_manager_signal(m); }));
    slots_.push_back(conn_->addMatch(
        "type='signal',sender='org.bluez',interface='org.freedesktop.DBus.Properties',"
        "member='PropertiesChanged'",
        [this](sdbus::Message& m) { properties_signal(m); }));
    slots_.push_back(conn_->addMatch(
        "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
        "member='NameOwnerChanged',arg0='org.bluez'",
        [this](sdbus::Message& m) {
          std::string name, before, after;
          m >> name >> before >> after;
          if (after.empty()) {
            service_gone("org.bluez left the bus");
          } else {
            load_objects();
          }
        }));
    load_objects();
  }

  void service_gone(const std::string& why) {
    for (auto& [id, done] : pending_) {
      post([done = std::move(done)] {
        done({"org.freedesktop.DBus.Error.Disconnected", "BlueZ went away", {}});
      });
    }
    pending_.clear();
    proxies_.clear();
    if (!down_reported_) {
      down_reported_ = true;
      post([e = events_, why] { e->bluez_down(why); });
    }
  }

  void load_objects() {
    root_->callMethodAsync("GetManagedObjects")
        .onInterface(kObjectManager)
        .withTimeout(10s)
        .uponReplyInvoke([this](const sdbus::Error* e, Managed objects) {
          if (e != nullptr) {
            // org.bluez is not running (yet); NameOwnerChanged says when it is.
            service_gone("BlueZ is not available: " + e->getName());
            return;
          }
          down_reported_ = false;
          post([ev = events_] { ev->bluez_up(); });
          // Controllers before devices before services before characteristics, so each
          // object's owner is known when it arrives.
          for (auto want : {BluezInterface::adapter, BluezInterface::device,
                            BluezInterface::service, BluezInterface::characteristic}) {
            for (const auto& [path, ifaces] : objects) {
              for (const auto& [name, props] : ifaces) {
                if (interface_of(name) != want) continue;
                post([ev = events_, p = std::string(path), want, bp = to_props(want, props)] {
                  ev->interface_added(p, want, bp, true);
                });
              }
            }
          }
        });
  }

  void object_manager_signal(sdbus::Message& m) {
    const auto member = m.getMemberName();
    sdbus::ObjectPath path;
    if (member == "InterfacesAdded") {
      std::map<std::string, Props> ifaces;
      m >> path >> ifaces;
      for (auto want : {BluezInterface::adapter, BluezInterface::device, BluezInterface::service,
                        BluezInterface::characteristic}) {
        for (const auto& [name, props] : ifaces) {
          if (interface_of(name) != want) continue;
          post([ev = events_, p = std::string(path), want, bp = to_props(want, props)] {
            ev->interface_added(p, want, bp, false);
          });
        }
      }
    } else if (member == "InterfacesRemoved") {
      std::vector<std::string> names;
      m >> path >> names;
      // The proxy stays: a call still in flight on it gets its error reply (UnknownObject or a
      // timeout) from the bus; destroying the proxy would drop that call without an answer.
      for (const auto& name : names) {
        if (auto i = interface_of(name)) {
          post([ev = events_, p = std::string(path), i = *i] { ev->interface_removed(p, i); });
        }
      }
    }
  }

  void properties_signal(sdbus::Message& m) {
    std::string iface_name;
    Props changed;
    m >> iface_name >> changed;
    const auto iface = interface_of(iface_name);
    if (!iface) return;
    post([ev = events_, p = m.getPath(), i = *iface, bp = to_props(*iface, changed)] {
      ev->properties_changed(p, i, bp);
    });
  }

  boost::asio::io_context& loop_;
  BluezEvents* events_ = nullptr;
  std::shared_ptr<bool> alive_;  // read and cleared on the core loop only
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  int wake_ = -1;
  std::mutex mutex_;
  std::deque<Job> jobs_;
  // Owned by the bus thread:
  std::unique_ptr<sdbus::IConnection> conn_;
  std::unique_ptr<sdbus::IProxy> root_;
  std::vector<sdbus::Slot> slots_;
  std::map<std::string, std::unique_ptr<sdbus::IProxy>> proxies_;
  std::map<std::uint64_t, Done> pending_;
  std::uint64_t next_call_ = 0;
  bool down_reported_ = false;
};

SdbusBluezLink::SdbusBluezLink(boost::asio::io_context& loop)
    : thread_(std::make_shared<Thread>(loop)) {}

SdbusBluezLink::~SdbusBluezLink() {
  stop();
}

void SdbusBluezLink::start(BluezEvents& events) {
  thread_->start(events);
}

void SdbusBluezLink::stop() {
  thread_->stop();
}

void SdbusBluezLink::refuse(Done done) {
  thread_->post([done = std::move(done)] {
    done({"org.fieldlink.Error.QueueFull", "too many BlueZ calls queued", {}});
  });
}

void SdbusBluezLink::connect(const std::string& device, std::chrono::milliseconds timeout,
                             Done done) {
  auto t = thread_;
  if (!t->submit([t, device, timeout, done]() mutable {
        t->call(device, kDeviceIface, "Connect", timeout, std::move(done), false);
      })) {
    refuse(std::move(done));
  }
}

void SdbusBluezLink::disconnect(const std::string& device, Done done) {
  auto t = thread_;
  if (!t->submit([t, device, done]() mutable {
        t->call(device, kDeviceIface, "Disconnect", 5s, std::move(done), false);
      })) {
    refuse(std::move(done));
  }
}

void SdbusBluezLink::read_value(const std::string& chr, std::chrono::milliseconds timeout,
                                Done done) {
  auto t = thread_;
  if (!t->submit([t, chr, timeout, done]() mutable {
        t->call(chr, kCharIface, "ReadValue", timeout, std::move(done), true, Props{});
      })) {
    refuse(std::move(done));
  }
}

void SdbusBluezLink::write_value(const std::string& chr, const Bytes& value, std::uint16_t offset,
                                 WriteType type, std::chrono::milliseconds timeout, Done done) {
  auto t = thread_;
  if (!t->submit([t, chr, value, offset, type, timeout, done]() mutable {
        Props options{{"type", sdbus::Variant(std::string(
                                   type == WriteType::request ? "request" : "command"))}};
        if (offset != 0) options["offset"] = sdbus::Variant(offset);
        t->call(chr, kCharIface, "WriteValue", timeout, std::move(done), false, value, options);
      })) {
    refuse(std::move(done));
  }
}

void SdbusBluezLink::start_notify(const std::string& chr, std::chrono::milliseconds timeout,
                                  Done done) {
  auto t = thread_;
  if (!t->submit([t, chr, timeout, done]() mutable {
        t->call(chr, kCharIface, "StartNotify", timeout, std::move(done), false);
      })) {
    refuse(std::move(done));
  }
}

void SdbusBluezLink::start_discovery(const std::string& controller,
                                     const std::vector<std::string>& uuids, Done done) {
  auto t = thread_;
  if (!t->submit([t, controller, uuids, done]() mutable {
        // BlueZ has no passive scan on D-Bus; an LE-only filter with duplicates kept is the
        // closest: no BR/EDR inquiry, and every advertisement updates RSSI/data.
        Props filter{{"Transport", sdbus::Variant(std::string("le"))},
                     {"DuplicateData", sdbus::Variant(true)}};
        if (!uuids.empty()) filter["UUIDs"] = sdbus::Variant(uuids);
        auto then = [t, controller, done = std::move(done)](BluezResult r) mutable {
          if (!r.ok()) {
            done(std::move(r));
            return;
          }
          t->submit([t, controller, done = std::move(done)]() mutable {
            t->call(controller, kAdapterIface, "StartDiscovery", 10s, std::move(done), false);
          });
        };
        t->call(controller, kAdapterIface, "SetDiscoveryFilter", 10s, std::move(then), false,
                filter);
      })) {
    refuse(std::move(done));
  }
}

void SdbusBluezLink::stop_discovery(const std::string& controller, Done done) {
  auto t = thread_;
  if (!t->submit([t, controller, done]() mutable {
        t->call(controller, kAdapterIface, "StopDiscovery", 5s, std::move(done), false);
      })) {
    refuse(std::move(done));
  }
}

}  // namespace fieldlink::ble
