#include "core/lane.hpp"

#include <pthread.h>

namespace fieldlink {

Lane::Lane(std::string name)
    : name_(std::move(name)), guard_(boost::asio::make_work_guard(context_)) {
  thread_ = std::thread([this] { context_.run(); });
  // Thread names show in top/gdb; the kernel keeps at most 15 characters.
  pthread_setname_np(thread_.native_handle(), name_.substr(0, 15).c_str());
}

Lane::~Lane() {
  guard_.reset();
  thread_.join();
}

}  // namespace fieldlink
