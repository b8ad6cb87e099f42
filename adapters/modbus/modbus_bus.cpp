#include "adapters/modbus/modbus_bus.hpp"

#include <boost/asio/post.hpp>
#include <thread>

#include "adapters/modbus/register_codec.hpp"

namespace fieldlink::modbus {
namespace {

using namespace std::chrono_literals;
using State = UnitBreaker::State;

std::vector<std::pair<size_t, size_t>> flatten(const std::vector<PollPlan>& plans) {
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t d = 0; d < plans.size(); ++d) {
    for (size_t g = 0; g < plans[d].groups().size(); ++g)
      out.emplace_back(d, g);
  }
  return out;
}

std::vector<BusScheduler::Group> scheduler_groups(const std::vector<PollPlan>& plans) {
  std::vector<BusScheduler::Group> out;
  for (const auto& [d, g] : flatten(plans))
    out.push_back({d, plans[d].groups()[g].interval});
  return out;
}

UnitBreaker::Params breaker_params(const ModbusSettings& s) {
  // The first probe of an offline unit comes after a second (or the ceiling, if lower), then
  // the wait doubles up to backoff_max.
  return {static_cast<int>(s.offline_after), std::min<std::chrono::milliseconds>(1s, s.backoff_max),
          s.backoff_max};
}

// Exceptions 10 and 11 come from a TCP-to-RTU gateway whose target unit did not answer: for the
// breaker that is an absent unit, not a live one.
bool unit_answered(const LinkStatus& s) {
  return s.ok() || (s.kind == LinkStatus::Kind::exception && s.code != 10 && s.code != 11);
}

}  // namespace

ModbusBus::ModbusBus(std::shared_ptr<const ModbusSettings> settings, std::vector<PollPlan> plans,
                     std::unique_ptr<ModbusLink> link, const Clock& clock,
                     boost::asio::io_context::executor_type lane, std::shared_ptr<BusEvents> events)
    : settings_(std::move(settings)),
      plans_(std::move(plans)),
      link_(std::move(link)),
      clock_(clock),
      lane_(lane),
      events_(std::move(events)),
      groups_(flatten(plans_)),
      scheduler_(scheduler_groups(plans_), plans_.size(), breaker_params(*settings_), clock.now()),
      counters_(settings_->devices.size()),
      timer_(lane) {
  for (const auto& d : settings_->devices) {
    filters_.emplace_back(d);
    sources_.push_back(SourceAddress::make("modbus", settings_->name, std::to_string(d.unit)));
  }
}

void ModbusBus::start() {
  running_ = true;
  schedule_step();
}

void ModbusBus::stop() {
  running_ = false;
  ++wait_generation_;
  timer_.cancel();
  waiting_ = false;
  while (!jobs_.empty()) {
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    JobResult r;
    const LinkStatus stopped{LinkStatus::Kind::disconnected, 0, "adapter stopping; not attempted"};
    r.writes.assign(job.writes.size(), stopped);
    r.read = stopped;
    job.done(std::move(r));
  }
  link_->close();
}

bool ModbusBus::submit(BusJob job) {
  if (!running_ || jobs_.size() >= kMaxQueuedJobs) return false;
  jobs_.push_back(std::move(job));
  if (waiting_) {
    // Commands jump ahead of polls: wake the chain now instead of at the next poll.
    ++wait_generation_;
    timer_.cancel();
    waiting_ = false;
    schedule_step();
  }
  return true;
}

void ModbusBus::schedule_step() {
  // Each step is its own handler, so commands posted by the core loop between two requests are
  // queued before the next pick.
  boost::asio::post(lane_, [self = shared_from_this()] { self->step(); });
}

void ModbusBus::wait_until(std::chrono::steady_clock::time_point at) {
  waiting_ = true;
  const auto generation = ++wait_generation_;
  // The timer runs on the steady clock; the injected clock decides what is due.
  timer_.expires_after(std::max(at - clock_.now(), std::chrono::steady_clock::duration{0}));
  timer_.async_wait([self = shared_from_this(), generation](boost::system::error_code ec) {
    if (ec || generation != self->wait_generation_) return;
    self->waiting_ = false;
    self->step();
  });
}

void ModbusBus::step() {
  if (!running_) return;
  if (!jobs_.empty()) {
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    run(job);
    schedule_step();
    return;
  }
  const auto next = scheduler_.next(clock_.now());
  if (!next.group) {
    wait_until(next.wake_at);
    return;
  }
  poll(*next.group);
  schedule_step();
}

LinkStatus ModbusBus::ensure_link() {
  if (link_->connected()) return LinkStatus::success();
  const auto now = clock_.now();
  if (now < reconnect_at_) {
    return {LinkStatus::Kind::disconnected, 0, "link down; next connect attempt pending"};
  }
  std::string warning;
  auto s = link_->connect(warning);
  if (!warning.empty()) events_->link(true, true, warning);
  if (s.ok()) {
    reconnect_backoff_ = 0ms;
    events_->link(true, false, "connected to " + settings_->endpoint());
    link_down_reported_ = false;
    return s;
  }
  reconnect_backoff_ =
      std::clamp<std::chrono::milliseconds>(reconnect_backoff_ * 2, 250ms, settings_->backoff_max);
  reconnect_at_ = now + reconnect_backoff_;
  if (!link_down_reported_) {
    events_->link(false, false,
                  s.detail + "; retrying with backoff up to " +
                      std::to_string(settings_->backoff_max.count()) + "ms");
    link_down_reported_ = true;
  }
  return s;
}

void ModbusBus::account(size_t device, const LinkStatus& s) {
  auto& c = counters_[device];
  switch (s.kind) {
    case LinkStatus::Kind::ok:
      return;
    case LinkStatus::Kind::exception:
      ++c.exceptions;
      break;
    case LinkStatus::Kind::timeout:
      ++c.timeouts;
      break;
    case LinkStatus::Kind::bad_frame:
      ++c.bad_frames;
      break;
    case LinkStatus::Kind::disconnected:
      ++c.link_errors;
      if (!link_->connected() && !link_down_reported_ && s.code != 0) {
        events_->link(false, false, s.detail + "; reconnecting");
        link_down_reported_ = true;
      }
      break;
  }
  c.last_error = s.detail;
}

void ModbusBus::pause_between_requests() {
  // The line must stay silent for slow units; the lane is the bus's own thread and nothing
  // else waits on it, so sleeping here only paces this bus.
  if (settings_->turnaround_delay.count() > 0)
    std::this_thread::sleep_for(settings_->turnaround_delay);
}

void ModbusBus::publish(size_t device) {
  auto& c = counters_[device];
  const auto& b = scheduler_.breaker(device);
  c.state = b.state();
  c.backoff = b.backoff();
  c.skipped = scheduler_.skipped(device);
  events_->counters(device, c);
}

void ModbusBus::poll(size_t group) {
  const auto [device, plan_group] = groups_[group];
  const auto& dev = settings_->devices[device];
  auto& c = counters_[device];
  ++c.polls;
  Reading reading{sources_[device], clock_.wall_now(), {}, Quality::good};
  bool answered = false;
  LinkStatus failure;
  std::vector<std::uint16_t> buffer;
  ReportFilter::Values point_values;
  for (const auto& request : plans_[device].groups()[plan_group].requests) {
    auto s = ensure_link();
    if (s.ok()) {
      buffer.assign(request.count, 0);
      ++c.requests;
      s = link_->read(dev.unit, request.table, request.start, buffer);
      pause_between_requests();
    }
    account(device, s);
    if (unit_answered(s)) answered = true;
    if (!s.ok()) {
      if (failure.ok()) failure = s;
      // A unit that does not answer one request will not answer the next: give up this poll
      // rather than spend another timeout of the shared line on it.
      if (s.kind != LinkStatus::Kind::exception) break;
      continue;
    }
    c.registers += request.count;
    for (const auto& slot : request.slots) {
      const auto& point = dev.points[slot.point];
      point_values.clear();
      decode_point(point,
                   std::span<const std::uint16_t>(buffer).subspan(
                       slot.offset, static_cast<size_t>(point.width())),
                   point_values);
      if (filters_[device].keep(slot.point, point_values, clock_.now())) {
        for (auto& v : point_values)
          reading.values.push_back(std::move(v));
      }
    }
  }
  const bool unit_ok = answered && (failure.ok() || failure.kind == LinkStatus::Kind::exception);
  if (unit_ok) c.last_seen = clock_.wall_now();
  const auto transition = scheduler_.finished(group, unit_ok, clock_.now());
  if (transition) {
    if (*transition == State::online) filters_[device].reset();
    events_->transition(device, *transition, failure.ok() ? "answering" : failure.detail);
    if (*transition == State::offline) {
      // Report the loss to the cloud too: a reading without values and with bad quality.
      events_->reading(Reading{sources_[device], clock_.wall_now(), {}, Quality::bad});
    }
  }
  if (!reading.values.empty()) {
    if (!failure.ok()) reading.quality = Quality::uncertain;
    events_->reading(std::move(reading));
  }
  publish(device);
}

void ModbusBus::run(BusJob& job) {
  const auto& dev = settings_->devices[job.device];
  auto& c = counters_[job.device];
  JobResult result;
  if (job.kind == BusJob::Kind::read) {
    result.sampled_at = clock_.wall_now();
    std::vector<std::uint16_t> buffer;
    for (const auto& g : plans_[job.device].groups()) {
      for (const auto& request : g.requests) {
        auto s = ensure_link();
        if (s.ok()) {
          buffer.assign(request.count, 0);
          ++c.requests;
          s = link_->read(dev.unit, request.table, request.start, buffer);
          pause_between_requests();
        }
        account(job.device, s);
        if (!s.ok()) {
          result.read = s;
          break;
        }
        for (const auto& slot : request.slots) {
          const auto& point = dev.points[slot.point];
          decode_point(point,
                       std::span<const std::uint16_t>(buffer).subspan(
                           slot.offset, static_cast<size_t>(point.width())),
                       result.values);
        }
      }
      if (!result.read.ok()) break;
    }
    if (result.read.ok()) c.last_seen = clock_.wall_now();
    publish(job.device);
    job.done(std::move(result));
    return;
  }
  bool give_up = false;
  for (const auto& item : job.writes) {
    if (give_up || clock_.now() > job.deadline) {
      result.writes.push_back({LinkStatus::Kind::timeout, 0,
                               give_up ? "not attempted: the unit did not answer an earlier write"
                                       : "not attempted: the command's deadline passed"});
      continue;
    }
    const auto& point = dev.points[item.point];
    auto s = ensure_link();
    if (s.ok()) {
      ++c.requests;
      ++c.writes;
      s = is_bit_table(point.table) ? link_->write_coils(dev.unit, point.address, item.words)
                                    : link_->write_registers(dev.unit, point.address, item.words);
      pause_between_requests();
    }
    if (s.ok() && dev.read_back) {
      std::vector<std::uint16_t> back(item.words.size(), 0);
      ++c.requests;
      s = link_->read(dev.unit, point.table, point.address, back);
      pause_between_requests();
      if (s.ok() && back != item.words) {
        s = {LinkStatus::Kind::bad_frame, 0,
             "read-back of '" + point.name + "' differs from the value written"};
      }
    }
    account(job.device, s);
    if (!s.ok()) {
      ++c.failed_writes;
      give_up = s.kind == LinkStatus::Kind::timeout || s.kind == LinkStatus::Kind::disconnected;
    } else {
      c.last_seen = clock_.wall_now();
    }
    result.writes.push_back(std::move(s));
  }
  publish(job.device);
  job.done(std::move(result));
}

}  // namespace fieldlink::modbus
