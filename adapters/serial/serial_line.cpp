#include "adapters/serial/serial_line.hpp"

#include <linux/serial.h>
#include <sys/ioctl.h>

#include <boost/asio/write.hpp>

namespace fieldlink::serial {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {
constexpr std::chrono::milliseconds kFirstBackoff = 100ms;
}

SerialLine::SerialLine(asio::io_context& loop, std::shared_ptr<const SerialSettings> settings,
                       std::weak_ptr<SerialLineEvents> events)
    : settings_(std::move(settings)),
      events_(std::move(events)),
      port_(loop),
      reopen_timer_(loop) {}

void SerialLine::start() {
  stopped_ = false;
  try_open();
}

void SerialLine::stop() {
  stopped_ = true;
  reopen_timer_.cancel();
  boost::system::error_code ignored;
  port_.close(ignored);
  writes_.clear();
}

void SerialLine::try_open() {
  if (stopped_) return;
  boost::system::error_code ec;
  port_.open(settings_->port, ec);
  if (ec) {
    fail("cannot open " + settings_->port + ": " + ec.message());
    return;
  }
  ++opens_;
  configure();
  down_reported_ = false;
  if (auto e = events_.lock()) e->line_opened();
  read();
}

void SerialLine::warn(const std::string& message) {
  if (!warned_.insert(message).second) return;
  if (auto e = events_.lock()) e->line_warning(message);
}

void SerialLine::configure() {
  using SP = asio::serial_port_base;
  const auto& s = *settings_;
  const auto set = [&](const auto& option, const std::string& what) {
    boost::system::error_code ec;
    port_.set_option(option, ec);
    if (ec) warn(settings_->port + ": cannot set " + what + " (" + ec.message() + ")");
  };
  set(SP::baud_rate(static_cast<unsigned>(s.baud)), "baud " + std::to_string(s.baud));
  set(SP::parity(s.parity == Parity::even  ? SP::parity::even
                 : s.parity == Parity::odd ? SP::parity::odd
                                           : SP::parity::none),
      "parity");
  set(SP::character_size(static_cast<unsigned>(s.data_bits)), "data bits");
  set(SP::stop_bits(s.stop_bits == 2 ? SP::stop_bits::two : SP::stop_bits::one), "stop bits");
  set(SP::flow_control(s.flow_control == FlowControl::hardware   ? SP::flow_control::hardware
                       : s.flow_control == FlowControl::software ? SP::flow_control::software
                                                                 : SP::flow_control::none),
      "flow control");
  if (s.rs485) {
    serial_rs485 rs{};
    rs.flags = SER_RS485_ENABLED | SER_RS485_RTS_ON_SEND;
    if (::ioctl(port_.native_handle(), TIOCSRS485, &rs) != 0) {
      // A PTY (and many USB adapters with automatic direction control) refuse it: ENOTTY.
      warn(settings_->port + ": cannot switch to RS-485 mode (" +
           boost::system::error_code(errno, boost::system::system_category()).message() + ")");
    }
  }
}

void SerialLine::read() {
  port_.async_read_some(asio::buffer(buffer_),
                        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                          if (self->stopped_) return;
                          if (ec) {
                            if (ec != asio::error::operation_aborted) {
                              self->fail(self->settings_->port + " went away: " + ec.message());
                            }
                            return;
                          }
                          // Bytes flow again: the next failure starts its backoff afresh.
                          self->backoff_ = kFirstBackoff;
                          if (auto e = self->events_.lock()) {
                            e->line_bytes(std::string_view(self->buffer_.data(), n));
                          }
                          if (!self->stopped_ && self->port_.is_open()) self->read();
                        });
}

bool SerialLine::write(std::string bytes, WriteDone done) {
  if (stopped_ || !port_.is_open() || writes_.size() >= kMaxQueuedWrites) return false;
  writes_.push_back({std::move(bytes), std::move(done)});
  if (!writing_) write_next();
  return true;
}

void SerialLine::write_next() {
  if (writes_.empty() || !port_.is_open()) {
    writing_ = false;
    return;
  }
  writing_ = true;
  asio::async_write(port_, asio::buffer(writes_.front().bytes),
                    [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                      self->writing_ = false;
                      // Closing the port (fail, stop) cleared the queue: nothing of ours is left.
                      if (self->stopped_ || ec == asio::error::operation_aborted) return;
                      auto done = std::move(self->writes_.front().done);
                      self->writes_.pop_front();
                      if (ec) {
                        const auto why = self->settings_->port + ": write failed: " + ec.message();
                        if (done) done(false, why);
                        self->fail(why);
                        return;
                      }
                      if (done) done(true, {});
                      self->write_next();
                    });
}

void SerialLine::fail(const std::string& why) {
  boost::system::error_code ignored;
  port_.close(ignored);  // cancels the outstanding read and write
  writes_.clear();
  writing_ = false;
  const bool first = !down_reported_;
  down_reported_ = true;
  if (auto e = events_.lock()) e->line_down(why, first);
  if (stopped_) return;
  reopen_timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, settings_->backoff_max);
  reopen_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->try_open();
  });
}

}  // namespace fieldlink::serial
