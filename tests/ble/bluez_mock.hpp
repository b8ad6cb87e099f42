#pragma once
// BlueZ for one test: a private dbus-daemon on a socket in the test's own temp folder, pointed to
// by DBUS_SYSTEM_BUS_ADDRESS (so the adapter under test keeps using "the system bus"), and
// python-dbusmock serving org.bluez on it with the project's GATT template
// (tests/fixtures/bluez/bluez_gatt.py). The test drives the mock through org.bluez.Mock and reads
// what the adapter called through org.freedesktop.DBus.Mock.GetMethodCalls. Both peers are
// killed by their guards, also when an assertion fails.
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sdbus-c++/sdbus-c++.h>

#include "../modbus/peer_process.hpp"
#include "../unit/config_test_support.hpp"

namespace fieldlink::testing {

class BluezMock {
 public:
  using Bytes = std::vector<std::uint8_t>;
  using Call = sdbus::Struct<std::uint64_t, std::vector<sdbus::Variant>>;

  BluezMock() {
    const auto socket = (dir_.path() / "bus.sock").string();
    bus_ = std::make_unique<PeerProcess>(
        std::vector<std::string>{FIELDLINK_DBUS_DAEMON, "--session", "--nofork", "--nopidfile",
                                 "--address=unix:path=" + socket, "--print-address=1"});
    if (bus_->wait_for_line("unix:path=", std::chrono::seconds(10)).empty()) {
      throw std::runtime_error("the private dbus-daemon did not start");
    }
    ::setenv("DBUS_SYSTEM_BUS_ADDRESS", ("unix:path=" + socket).c_str(), 1);
    std::vector<std::string> argv{
        FIELDLINK_SYSTEM_PYTHON, "-m", "dbusmock", "--system", "--template",
        FIELDLINK_BLUEZ_TEMPLATE};
    // dbusmock logs every call it receives, to stdout unless told otherwise; a pipe nobody reads
    // would fill and block it. The log goes to a file (FIELDLINK_BLUEZ_MOCK_LOG to keep it).
    const char* log = std::getenv("FIELDLINK_BLUEZ_MOCK_LOG");
    argv.insert(argv.end(), {"-l", log ? std::string(log) : (dir_.path() / "mock.log").string()});
    mock_ = std::make_unique<PeerProcess>(argv);
    conn_ = sdbus::createSystemBusConnection();
    dbus_ = sdbus::createProxy(*conn_, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    for (;;) {
      bool up = false;
      dbus_->callMethod("NameHasOwner")
          .onInterface("org.freedesktop.DBus")
          .withArguments(std::string("org.bluez"))
          .storeResultsTo(up);
      if (up) break;
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("python-dbusmock did not take org.bluez");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a condition
    }
    root_ = sdbus::createProxy(*conn_, "org.bluez", "/");
  }
  ~BluezMock() {
    root_.reset();
    dbus_.reset();
    conn_.reset();
    mock_.reset();
    bus_.reset();
  }

  template <class R = std::string, class... Args>
  R mock(const std::string& method, Args&&... args) {
    R out{};
    auto m = root_->createMethodCall("org.bluez.Mock", method);
    (m << ... << args);
    auto reply = root_->callMethod(m);
    if constexpr (!std::is_same_v<R, std::monostate>) reply >> out;
    return out;
  }
  void mock_void(const std::string& method, auto&&... args) {
    auto m = root_->createMethodCall("org.bluez.Mock", method);
    (m << ... << args);
    root_->callMethod(m);
  }

  std::string add_adapter(const std::string& name) {
    return mock("AddAdapter", name, std::string("fieldlink-test"));
  }
  std::string add_device(const std::string& mac, const std::string& alias) {
    return mock("AddDevice", std::string("hci0"), mac, alias);
  }
  std::string add_service(const std::string& device, const std::string& name,
                          const std::string& uuid) {
    return mock("AddGattService", device, name, uuid);
  }
  std::string add_char(const std::string& service, const std::string& name, const std::string& uuid,
                       const std::vector<std::string>& flags, const Bytes& value) {
    return mock("AddGattCharacteristic", service, name, uuid, flags, value);
  }
  bool notify(const std::string& chr, const Bytes& value) {
    return mock<bool>("Notify", chr, value);
  }
  void drop(const std::string& device) { mock_void("DropDevice", device); }
  void set_reachable(const std::string& device, bool on) { mock_void("SetReachable", device, on); }
  void set_powered(const std::string& adapter, bool on) { mock_void("SetPowered", adapter, on); }
  void remove_adapter_with_devices(const std::string& adapter) {
    mock_void("RemoveAdapterWithDevices", adapter);
  }
  void advertise(const std::string& device, std::int16_t rssi, std::uint16_t company,
                 const Bytes& data) {
    mock_void("Advertise", device, rssi, company, data);
  }
  void set_write_error(const std::string& chr, const std::string& name) {
    mock_void("SetWriteError", chr, name);
  }
  void set_write_delay(const std::string& chr, double seconds) {
    mock_void("SetWriteDelay", chr, seconds);
  }

  // The calls of `method` on the object at `path`, each as its argument list.
  std::vector<std::vector<sdbus::Variant>> calls(const std::string& path,
                                                 const std::string& method) {
    auto p = sdbus::createProxy(*conn_, "org.bluez", path);
    std::vector<Call> log;
    p->callMethod("GetMethodCalls")
        .onInterface("org.freedesktop.DBus.Mock")
        .withArguments(method)
        .storeResultsTo(log);
    std::vector<std::vector<sdbus::Variant>> out;
    for (auto& c : log)
      out.push_back(c.get<1>());
    return out;
  }

  bool property_bool(const std::string& path, const std::string& iface, const std::string& name) {
    auto p = sdbus::createProxy(*conn_, "org.bluez", path);
    sdbus::Variant v;
    p->callMethod("Get")
        .onInterface("org.freedesktop.DBus.Properties")
        .withArguments(iface, name)
        .storeResultsTo(v);
    return v.get<bool>();
  }

 private:
  TempDir dir_;
  std::unique_ptr<PeerProcess> bus_;
  std::unique_ptr<PeerProcess> mock_;
  std::unique_ptr<sdbus::IConnection> conn_;
  std::unique_ptr<sdbus::IProxy> dbus_;
  std::unique_ptr<sdbus::IProxy> root_;
};

}  // namespace fieldlink::testing
