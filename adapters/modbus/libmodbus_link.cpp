#include "adapters/modbus/libmodbus_link.hpp"

#include <modbus/modbus.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace fieldlink::modbus {
namespace {

void set_timeout(modbus_t* ctx, std::chrono::milliseconds t, bool response) {
  const auto sec = static_cast<std::uint32_t>(t.count() / 1000);
  const auto usec = static_cast<std::uint32_t>((t.count() % 1000) * 1000);
  if (response) {
    modbus_set_response_timeout(ctx, sec, usec);
  } else {
    modbus_set_byte_timeout(ctx, sec, usec);
  }
}

char parity_char(Parity p) {
  switch (p) {
    case Parity::none:
      return 'N';
    case Parity::even:
      return 'E';
    case Parity::odd:
      return 'O';
  }
  return 'N';
}

}  // namespace

void LibmodbusLink::Free::operator()(_modbus* ctx) const {
  modbus_close(ctx);
  modbus_free(ctx);
}

LibmodbusLink::LibmodbusLink(const ModbusSettings& settings) : settings_(settings) {}

LinkStatus LibmodbusLink::connect(std::string& warning) {
  close();
  // A fresh context per connect: libmodbus keeps the socket/fd inside it, and a re-plugged
  // serial adapter or restarted PLC is best met with nothing carried over.
  modbus_t* raw =
      settings_.transport == Transport::tcp
          ? modbus_new_tcp_pi(settings_.host.c_str(), std::to_string(settings_.tcp_port).c_str())
          : modbus_new_rtu(settings_.serial_port.c_str(), static_cast<int>(settings_.baud),
                           parity_char(settings_.parity), static_cast<int>(settings_.data_bits),
                           static_cast<int>(settings_.stop_bits));
  if (raw == nullptr) {
    return {LinkStatus::Kind::disconnected, errno,
            std::string("cannot create libmodbus context: ") + modbus_strerror(errno)};
  }
  ctx_.reset(raw);
  set_timeout(raw, settings_.response_timeout, true);
  set_timeout(raw, settings_.byte_timeout, false);
  // Recovery is ours (reconnect with backoff, flush after a timeout), not libmodbus's, whose
  // link recovery would reconnect inside a call and sleep on the lane unbounded.
  modbus_set_error_recovery(raw, MODBUS_ERROR_RECOVERY_NONE);
  if (modbus_connect(raw) == -1) {
    const int e = errno;
    ctx_.reset();
    return {LinkStatus::Kind::disconnected, e,
            "cannot connect to " + settings_.endpoint() + ": " + modbus_strerror(e)};
  }
  if (settings_.transport == Transport::rtu && settings_.rs485 &&
      modbus_rtu_set_serial_mode(raw, MODBUS_RTU_RS485) == -1) {
    // PTYs and plain RS-232 adapters refuse the ioctl (ENOTTY); many RS-485 converters switch
    // direction by themselves, so this is worth a warning, not a dead bus.
    warning = std::string("cannot switch ") + settings_.serial_port +
              " to RS-485 mode: " + modbus_strerror(errno) + "; continuing in RS-232 mode";
  }
  connected_ = true;
  return LinkStatus::success();
}

void LibmodbusLink::close() {
  ctx_.reset();
  connected_ = false;
}

LinkStatus LibmodbusLink::failed(std::string_view what) {
  const int e = errno;
  LinkStatus s;
  s.code = e;
  s.detail = std::string(what) + ": " + modbus_strerror(e);
  if (e > MODBUS_ENOBASE && e <= EMBXGTAR) {
    s.kind = LinkStatus::Kind::exception;
    s.code = e - MODBUS_ENOBASE;
  } else if (e == ETIMEDOUT) {
    s.kind = LinkStatus::Kind::timeout;
  } else if (e >= EMBBADCRC && e <= EMBBADSLAVE) {
    s.kind = LinkStatus::Kind::bad_frame;
  } else {
    s.kind = LinkStatus::Kind::disconnected;
  }
  if (s.kind == LinkStatus::Kind::timeout || s.kind == LinkStatus::Kind::bad_frame) {
    // A late or partial answer must not be read as the answer to the next request.
    if (modbus_flush(ctx_.get()) == -1) s.kind = LinkStatus::Kind::disconnected;
  }
  if (s.kind == LinkStatus::Kind::disconnected) close();
  return s;
}

LinkStatus LibmodbusLink::read(std::uint8_t unit, Table table, std::uint16_t address,
                               std::span<std::uint16_t> out) {
  if (!connected_) return {LinkStatus::Kind::disconnected, ENOTCONN, "not connected"};
  if (modbus_set_slave(ctx_.get(), unit) == -1) return failed("unit " + std::to_string(unit));
  const int n = static_cast<int>(out.size());
  int rc = -1;
  if (is_bit_table(table)) {
    std::vector<std::uint8_t> bits(out.size());
    rc = table == Table::coil ? modbus_read_bits(ctx_.get(), address, n, bits.data())
                              : modbus_read_input_bits(ctx_.get(), address, n, bits.data());
    if (rc == n) std::copy(bits.begin(), bits.end(), out.begin());
  } else {
    rc = table == Table::holding ? modbus_read_registers(ctx_.get(), address, n, out.data())
                                 : modbus_read_input_registers(ctx_.get(), address, n, out.data());
  }
  if (rc == n) return LinkStatus::success();
  if (rc >= 0) errno = EMBMDATA;
  return failed("read " + std::string(table_name(table)) + " " + std::to_string(address) + "+" +
                std::to_string(n));
}

LinkStatus LibmodbusLink::write_coils(std::uint8_t unit, std::uint16_t address,
                                      std::span<const std::uint16_t> bits) {
  if (!connected_) return {LinkStatus::Kind::disconnected, ENOTCONN, "not connected"};
  if (modbus_set_slave(ctx_.get(), unit) == -1) return failed("unit " + std::to_string(unit));
  int rc = -1;
  if (bits.size() == 1) {
    rc = modbus_write_bit(ctx_.get(), address, bits[0] != 0);
  } else {
    std::vector<std::uint8_t> b(bits.begin(), bits.end());
    rc = modbus_write_bits(ctx_.get(), address, static_cast<int>(b.size()), b.data());
  }
  if (rc != -1) return LinkStatus::success();
  return failed("write coil " + std::to_string(address));
}

LinkStatus LibmodbusLink::write_registers(std::uint8_t unit, std::uint16_t address,
                                          std::span<const std::uint16_t> words) {
  if (!connected_) return {LinkStatus::Kind::disconnected, ENOTCONN, "not connected"};
  if (modbus_set_slave(ctx_.get(), unit) == -1) return failed("unit " + std::to_string(unit));
  const int rc = words.size() == 1
                     ? modbus_write_register(ctx_.get(), address, words[0])
                     : modbus_write_registers(ctx_.get(), address, static_cast<int>(words.size()),
                                              words.data());
  if (rc != -1) return LinkStatus::success();
  return failed("write holding " + std::to_string(address) + "+" + std::to_string(words.size()));
}

}  // namespace fieldlink::modbus
