#include "adapters/serial/serial_adapter.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "adapters/builtin.hpp"
#include "adapters/serial/escaped_bytes.hpp"
#include "adapters/serial/frame_parser.hpp"
#include "adapters/serial/framer.hpp"
#include "adapters/serial/named_regex.hpp"
#include "adapters/serial/serial_line.hpp"
#include "config/value_types.hpp"
#include "core/utc_time.hpp"

namespace fieldlink::serial {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxQueuedTransactions = 16;
constexpr auto kBadFrameLogWindow = 10s;  // at most one bad-frame record per window and device
constexpr auto kDefaultSendTimeout = 2s;
constexpr std::size_t kNoDevice = static_cast<std::size_t>(-1);

std::string replace_all(std::string text, std::string_view what, std::string_view with) {
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size()))
    text.replace(at, what.size(), with);
  return text;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Outcome outcome(int status, const std::string& message) {
  return {status, dump(json{{"status", status}, {"message", message}})};
}

json values_json(const std::vector<std::pair<std::string, Value>>& values) {
  json out = json::object();
  for (const auto& [name, v] : values)
    std::visit([&, &n = name](const auto& x) { out[n] = x; }, v);
  return out;
}

struct BadFrames {
  std::uint64_t overlong = 0;
  std::uint64_t truncated = 0;
  std::uint64_t garbage = 0;
  std::uint64_t bad_length = 0;
  std::uint64_t checksum = 0;
  std::uint64_t parse = 0;

  std::uint64_t total() const {
    return overlong + truncated + garbage + bad_length + checksum + parse;
  }
  json to_json() const {
    return {{"overlong", overlong},     {"truncated", truncated}, {"garbage", garbage},
            {"bad_length", bad_length}, {"checksum", checksum},   {"parse", parse},
            {"total", total()}};
  }
};

// Repeated bad frames of one device: the first is logged, then one record per window that says
// how many were not logged.
struct LogLimit {
  std::chrono::steady_clock::time_point window_end{};
  std::uint64_t suppressed = 0;
};

}  // namespace

class SerialAdapter::Bus final : public SerialLineEvents,
                                 public FrameSink,
                                 public std::enable_shared_from_this<Bus> {
 public:
  Bus(AdapterContext context, std::shared_ptr<const SerialSettings> settings)
      : ctx_(std::move(context)),
        settings_(std::move(settings)),
        framer_(make_framer(settings_->framing)),
        parser_(settings_->parse),
        gap_timer_(ctx_.loop),
        poll_timer_(ctx_.loop),
        transaction_timer_(ctx_.loop) {
    if (settings_->parse.address.empty()) {
      add_device("");
    } else if (settings_->poll) {
      for (const auto& a : settings_->poll->addresses)
        add_device(a);
    }
  }

  void start() {
    stopping_ = false;
    line_ = std::make_shared<SerialLine>(ctx_.loop, settings_, weak_from_this());
    line_->start();
    if (settings_->poll) schedule_poll(0ms);
  }

  void stop() {
    stopping_ = true;
    if (line_) line_->stop();
    gap_timer_.cancel();
    poll_timer_.cancel();
    transaction_timer_.cancel();
    abandon_transactions(503, "the adapter is stopping");
  }

  void execute(const Command& command, OutcomeHandler handler);
  void describe(json& out) const;

  // SerialLineEvents
  void line_opened() override {
    link_up_ = true;
    link_message_ = settings_->port + " open";
    ctx_.log.info(fields("serial.link_up"), link_message_);
    start_next();
  }
  void line_bytes(std::string_view bytes) override {
    bytes_in_ += bytes.size();
    framer_->feed(bytes, *this);
    arm_gap_timer();
  }
  void line_down(const std::string& why, bool first) override {
    const bool was_up = link_up_;
    link_up_ = false;
    link_message_ = why;
    framer_->reset();
    gap_timer_.cancel();
    if (!first) return;  // still absent: the first record said it all
    ctx_.log.error(fields("serial.link_down"), why + "; reopening with backoff");
    abandon_transactions(404, (was_up ? "the port went away: " : "the port is absent: ") + why);
    for (std::size_t i = 0; i < devices_.size(); ++i)
      set_online(i, false, "port down");
  }
  void line_warning(const std::string& message) override {
    ctx_.log.warning(fields("serial.link_warning"), message);
  }

  // FrameSink
  void frame(std::string_view frame) override;
  void fault(FrameFault fault, std::size_t bytes) override {
    const auto d = attributed();
    auto& bad = d == kNoDevice ? line_bad_ : devices_[d].bad;
    switch (fault) {
      case FrameFault::overlong:
        ++bad.overlong;
        break;
      case FrameFault::truncated:
        ++bad.truncated;
        break;
      case FrameFault::garbage:
        ++bad.garbage;
        break;
      case FrameFault::bad_length:
        ++bad.bad_length;
        break;
    }
    bad_frame(d, std::string(fault_name(fault)) + " frame, " + std::to_string(bytes) +
                     " bytes discarded");
  }

 private:
  struct Transaction {
    enum class Kind { poll, send, write };
    Kind kind = Kind::poll;
    std::uint64_t seq = 0;  // tells a stale timer or write completion from the current one
    std::size_t device = 0;
    std::string bytes;
    std::optional<NamedRegex> expect;
    std::chrono::milliseconds timeout{0};
    OutcomeHandler handler;
  };

  struct Device {
    Device(std::string a, SourceAddress s) : address(std::move(a)), source(std::move(s)) {}
    std::string address;
    SourceAddress source;
    enum class State { unknown, online, offline } state = State::unknown;
    std::uint64_t frames = 0;
    std::uint64_t readings = 0;
    std::uint64_t readings_refused = 0;
    std::uint64_t polls = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t skipped = 0;
    std::int64_t silent_polls = 0;
    BadFrames bad;
    std::optional<std::chrono::system_clock::time_point> last_seen;
    std::string last_error;
    LogLimit log_limit;
  };

  LogFields fields(std::string_view event, std::string_view source = {}) const {
    return {.event = event, .adapter = settings_->name.str(), .source = source};
  }

  std::size_t add_device(const std::string& address) {
    Device d{address, SourceAddress::make("serial", settings_->name, address)};
    devices_.push_back(std::move(d));
    index_[address] = devices_.size() - 1;
    return devices_.size() - 1;
  }

  // Who a fault is counted against: the device being polled, the only device, or the line.
  std::size_t attributed() const {
    if (current_ && current_->kind == Transaction::Kind::poll) return current_->device;
    return settings_->parse.address.empty() ? 0 : kNoDevice;
  }

  void bad_frame(std::size_t d, const std::string& why) {
    auto& limit = d == kNoDevice ? line_log_limit_ : devices_[d].log_limit;
    if (d != kNoDevice) devices_[d].last_error = why;
    line_last_error_ = why;
    const auto now = ctx_.clock.now();
    if (now < limit.window_end) {
      ++limit.suppressed;
      return;
    }
    const auto source = d == kNoDevice ? std::string() : devices_[d].source.str();
    std::string message = (d == kNoDevice ? settings_->port : source) + ": " + why;
    if (limit.suppressed > 0) {
      message += " (" + std::to_string(limit.suppressed) + " more since the last record)";
    }
    ctx_.log.warning(fields("serial.bad_frame", source), message);
    limit.window_end = now + kBadFrameLogWindow;
    limit.suppressed = 0;
  }

  void set_online(std::size_t d, bool online, const std::string& why) {
    auto& dev = devices_[d];
    const auto next = online ? Device::State::online : Device::State::offline;
    if (dev.state == next) return;
    const bool was_known = dev.state != Device::State::unknown;
    dev.state = next;
    if (online) {
      ctx_.log.notice(fields("serial.device_online", dev.source.str()),
                      dev.source.str() + " online");
    } else if (was_known || settings_->poll) {
      ctx_.log.warning(fields("serial.device_offline", dev.source.str()),
                       dev.source.str() + " offline (" + why + ")");
    }
  }

  void arm_gap_timer() {
    const auto gap = settings_->framing.inter_byte_timeout;
    if (gap.count() == 0) return;
    if (!framer_->partial()) {
      gap_timer_.cancel();
      return;
    }
    gap_timer_.expires_after(gap);
    gap_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->stopping_) return;
      // Bytes that arrived after this wait completed re-armed the timer: not a gap after all.
      if (self->gap_timer_.expiry() > std::chrono::steady_clock::now()) return;
      self->framer_->gap(*self);
    });
  }

  void schedule_poll(std::chrono::milliseconds after) {
    poll_timer_.expires_after(after);
    poll_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->stopping_) return;
      self->poll_round();
      self->schedule_poll(self->settings_->poll->every);
    });
  }

  // One request per device; a device whose previous poll is still waiting is skipped and
  // counted, so a slow line never queues without end.
  void poll_round() {
    if (!line_ || !line_->is_open()) return;
    const auto& poll = *settings_->poll;
    const auto pending = [&](std::size_t d) {
      if (current_ && current_->kind == Transaction::Kind::poll && current_->device == d)
        return true;
      for (const auto& t : queue_)
        if (t.kind == Transaction::Kind::poll && t.device == d) return true;
      return false;
    };
    const auto count = poll.addresses.empty() ? std::size_t{1} : poll.addresses.size();
    for (std::size_t i = 0; i < count; ++i) {
      const auto d = poll.addresses.empty() ? 0 : index_.at(poll.addresses[i]);
      if (pending(d) || queue_.size() >= kMaxQueuedTransactions) {
        ++devices_[d].skipped;
        continue;
      }
      Transaction t;
      t.kind = Transaction::Kind::poll;
      t.device = d;
      t.bytes = replace_all(poll.request, "{address}", devices_[d].address);
      t.timeout = poll.timeout;
      queue_.push_back(std::move(t));
    }
    start_next();
  }

  void start_next() {
    while (!current_ && !queue_.empty() && line_ && line_->is_open() && !stopping_) {
      current_ = std::move(queue_.front());
      queue_.pop_front();
      auto& t = *current_;
      t.seq = ++next_seq_;
      SerialLine::WriteDone done;
      if (t.kind == Transaction::Kind::write) {
        // A C2D write is answered when its bytes are on the port, not when they are queued.
        done = [weak = weak_from_this(), seq = t.seq, n = t.bytes.size()](bool ok,
                                                                          const std::string& why) {
          auto self = weak.lock();
          if (!self || !self->current_ || self->current_->seq != seq) return;
          self->finish(ok ? Outcome{200, dump(json{{"status", 200}, {"written", n}})}
                          : outcome(502, why));
        };
      }
      if (!line_->write(t.bytes, std::move(done))) {
        finish(t.kind == Transaction::Kind::poll ? std::optional<Outcome>()
                                                 : outcome(503, "the port's write queue is full"));
        continue;
      }
      bytes_out_ += t.bytes.size();
      if (t.kind == Transaction::Kind::write) continue;  // the loop ends: current_ is set
      if (t.kind == Transaction::Kind::poll) ++devices_[t.device].polls;
      transaction_timer_.expires_after(t.timeout);
      transaction_timer_.async_wait(
          [weak = weak_from_this(), seq = t.seq](boost::system::error_code ec) {
            auto self = weak.lock();
            // A timer that fired just as its transaction ended must not end the next one.
            if (ec || !self || self->stopping_ || !self->current_ || self->current_->seq != seq) {
              return;
            }
            self->timed_out();
          });
    }
  }

  // Ends the current transaction (answering its caller, if it has one) and starts the next.
  void finish(std::optional<Outcome> result) {
    auto t = std::move(*current_);
    current_.reset();
    transaction_timer_.cancel();
    if (t.handler && result) t.handler(std::move(*result));
    asio::post(ctx_.loop, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->start_next();
    });
  }

  void timed_out() {
    if (!current_) return;
    if (current_->kind == Transaction::Kind::poll) {
      auto& dev = devices_[current_->device];
      ++dev.timeouts;
      dev.last_error = "no answer within " + config::format_duration(current_->timeout);
      if (++dev.silent_polls >= settings_->offline_after) {
        set_online(current_->device, false, std::to_string(dev.silent_polls) + " polls unanswered");
      }
      finish(std::nullopt);
      return;
    }
    finish(outcome(504, "no matching answer within " + config::format_duration(current_->timeout)));
  }

  void abandon_transactions(int status, const std::string& why) {
    transaction_timer_.cancel();
    std::deque<Transaction> all;
    if (current_) all.push_back(std::move(*current_));
    current_.reset();
    for (auto& t : queue_)
      all.push_back(std::move(t));
    queue_.clear();
    for (auto& t : all) {
      if (t.handler) t.handler(outcome(status, why));
    }
  }

  bool enqueue(Transaction t, OutcomeHandler& handler) {
    if (queue_.size() >= kMaxQueuedTransactions) {
      ++commands_refused_;
      handler(outcome(503, "too many commands queued for this line"));
      return false;
    }
    queue_.push_back(std::move(t));
    start_next();
    return true;
  }

  AdapterContext ctx_;
  std::shared_ptr<const SerialSettings> settings_;
  std::unique_ptr<Framer> framer_;
  FrameParser parser_;
  std::shared_ptr<SerialLine> line_;
  asio::steady_timer gap_timer_;
  asio::steady_timer poll_timer_;
  asio::steady_timer transaction_timer_;
  std::vector<Device> devices_;
  std::map<std::string, std::size_t> index_;
  std::optional<Transaction> current_;
  std::deque<Transaction> queue_;
  BadFrames line_bad_;  // faults no device can be blamed for (several devices, none polled)
  LogLimit line_log_limit_;
  std::string line_last_error_;
  bool link_up_ = false;
  bool stopping_ = false;
  std::string link_message_ = "not opened yet";
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
  std::uint64_t frames_ = 0;
  std::uint64_t unknown_addresses_ = 0;
  std::uint64_t commands_refused_ = 0;
  std::uint64_t answers_ = 0;
  std::uint64_t next_seq_ = 0;  // frames taken by a `send` rather than parsed into readings
};

void SerialAdapter::Bus::frame(std::string_view frame) {
  ++frames_;
  if (current_ && current_->kind == Transaction::Kind::send &&
      (!current_->expect || current_->expect->search(frame, nullptr))) {
    ++answers_;
    json result{{"status", 200}, {"frame", printable_bytes(frame)}};
    if (auto parsed = parser_.parse(frame); parsed.frame) {
      result["values"] = values_json(parsed.frame->values);
    }
    finish(Outcome{200, dump(result)});
    return;
  }
  auto parsed = parser_.parse(frame);
  if (!parsed.frame) {
    const auto d = attributed();
    auto& bad = d == kNoDevice ? line_bad_ : devices_[d].bad;
    ++(parsed.fault == ParseResult::Fault::checksum ? bad.checksum : bad.parse);
    bad_frame(d, parsed.error);
    return;
  }
  auto it = index_.find(parsed.frame->address);
  if (it == index_.end()) {
    if (devices_.size() >= static_cast<std::size_t>(settings_->max_devices)) {
      ++unknown_addresses_;
      bad_frame(kNoDevice, "address '" + parsed.frame->address + "' beyond max_devices " +
                               std::to_string(settings_->max_devices) + "; frame dropped");
      return;
    }
    it = index_.find(devices_[add_device(parsed.frame->address)].address);
  }
  const auto d = it->second;
  auto& dev = devices_[d];
  ++dev.frames;
  dev.silent_polls = 0;
  dev.last_seen = ctx_.clock.wall_now();
  set_online(d, true, {});
  Reading r{dev.source, *dev.last_seen, std::move(parsed.frame->values), Quality::good};
  if (ctx_.sink.push(std::move(r)) == ReadingSink::Result::accepted) {
    ++dev.readings;
  } else {
    ++dev.readings_refused;
  }
  if (current_ && current_->kind == Transaction::Kind::poll && current_->device == d) {
    finish(std::nullopt);
  }
}

void SerialAdapter::Bus::execute(const Command& command, OutcomeHandler handler) {
  const auto key = std::string(command.target.device_key());
  const auto it = index_.find(key);
  if (command.target.adapter() != settings_->name.str() || it == index_.end()) {
    handler(outcome(404, settings_->parse.address.empty()
                             ? "no such device: this adapter is serial://" + settings_->name.str()
                             : "no such device on this line (known: serial://" +
                                   settings_->name.str() +
                                   "/<address> of a polled or heard "
                                   "address)"));
    return;
  }
  if (!line_ || !line_->is_open()) {
    handler(outcome(404, "the device is offline: " + link_message_));
    return;
  }
  Transaction t;
  t.device = it->second;
  t.handler = handler;
  if (command.kind == Command::Kind::c2d) {
    t.kind = Transaction::Kind::write;
    t.bytes = settings_->command_template.empty()
                  ? command.payload
                  : replace_all(replace_all(settings_->command_template, "{address}", key),
                                "{body}", command.payload);
    enqueue(std::move(t), handler);
    return;
  }
  if (command.kind != Command::Kind::method || command.name != "send") {
    handler(outcome(400, command.kind == Command::Kind::method
                             ? "unknown method '" + command.name + "'; this device has: send"
                             : "serial devices take no desired properties"));
    return;
  }
  const auto body = json::parse(command.payload, nullptr, false);
  if (!body.is_object() || !body.contains("data") || !body["data"].is_string()) {
    handler(outcome(400, R"(expected {"data": "<bytes, with \\r \\n \\xHH escapes>", )"
                         R"("expect": "<regex>", "timeout": "2s"})"));
    return;
  }
  auto data = unescape_bytes(body["data"].get<std::string>());
  if (!data.error.empty() || data.bytes.empty()) {
    handler(outcome(400, "data: " + (data.error.empty() ? "must not be empty" : data.error)));
    return;
  }
  t.kind = Transaction::Kind::send;
  t.bytes = std::move(data.bytes);
  if (body.contains("expect")) {
    std::string why;
    if (!body["expect"].is_string() ||
        !(t.expect = NamedRegex::compile(body["expect"].get<std::string>(), why))) {
      handler(outcome(400, "expect: " + (why.empty() ? "must be a string" : why)));
      return;
    }
  }
  t.timeout = kDefaultSendTimeout;
  if (body.contains("timeout")) {
    const auto parsed =
        body["timeout"].is_string()
            ? config::parse_duration(body["timeout"].get<std::string>())
            : config::Parsed<config::Duration>::fail("expected a string like \"2s\"");
    if (!parsed.value || parsed.value->count() <= 0) {
      handler(outcome(400, "timeout: " + (parsed.value ? "must be positive" : parsed.error)));
      return;
    }
    t.timeout = *parsed.value;
  }
  if (command.deadline != std::chrono::steady_clock::time_point{}) {
    // Never wait past the hub's own method timeout: the caller would get no answer at all.
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(command.deadline - ctx_.clock.now());
    t.timeout = std::clamp(left, 1ms, t.timeout);
  }
  enqueue(std::move(t), handler);
}

void SerialAdapter::Bus::describe(json& out) const {
  out["name"] = settings_->name.str();
  out["type"] = "serial";
  out["port"] = settings_->port;
  out["link"] = {{"up", link_up_},
                 {"message", link_message_},
                 {"opens", line_ ? line_->opens() : 0},
                 {"next_backoff_ms", line_ ? line_->next_backoff().count() : 0}};
  out["bytes_in"] = bytes_in_;
  out["bytes_out"] = bytes_out_;
  out["frames"] = frames_;
  out["answers"] = answers_;
  out["unknown_addresses"] = unknown_addresses_;
  out["commands_refused"] = commands_refused_;
  out["queued"] = queue_.size() + (current_ ? 1 : 0);
  out["bad_frames"] = line_bad_.to_json();
  out["last_error"] = line_last_error_;
  auto& devices = out["devices"] = json::array();
  for (const auto& d : devices_) {
    devices.push_back({
        {"source", d.source.str()},
        {"address", d.address},
        {"state", d.state == Device::State::online    ? "online"
                  : d.state == Device::State::offline ? "offline"
                                                      : "unknown"},
        {"frames", d.frames},
        {"readings", d.readings},
        {"readings_refused", d.readings_refused},
        {"polls", d.polls},
        {"timeouts", d.timeouts},
        {"skipped", d.skipped},
        {"bad_frames", d.bad.to_json()},
        {"last_seen", d.last_seen ? json(utc_iso8601(*d.last_seen)) : json()},
        {"last_error", d.last_error},
    });
  }
}

SerialAdapter::SerialAdapter(AdapterContext context, std::shared_ptr<const SerialSettings> settings)
    : context_(std::move(context)), settings_(std::move(settings)) {
  bus_ = std::make_shared<Bus>(context_, settings_);
}

SerialAdapter::~SerialAdapter() {
  bus_->stop();
}

void SerialAdapter::start() {
  bus_->start();
}

void SerialAdapter::stop(std::function<void()> done) {
  bus_->stop();
  // Cancelled handlers run before `done`: they were queued first.
  asio::post(context_.loop, std::move(done));
}

void SerialAdapter::execute(const Command& command, OutcomeHandler handler) {
  bus_->execute(command, std::move(handler));
}

void SerialAdapter::describe(nlohmann::json& out) const {
  bus_->describe(out);
}

AdapterType serial_type() {
  return adapter_type(
      "serial", "Line and frame protocols on a serial port (scales, meters, barcode readers)",
      parse_serial_settings,
      [](AdapterContext context, std::shared_ptr<const SerialSettings> settings) {
        return std::make_unique<SerialAdapter>(std::move(context), std::move(settings));
      },
      serial_schema_reference);
}

}  // namespace fieldlink::serial
