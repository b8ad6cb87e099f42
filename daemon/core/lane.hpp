#pragma once
// A lane: one thread that owns a blocking library's handles (a Modbus bus, the SQLite journal) and
// runs work posted to it in order. Results travel back by posting to the core loop (design.md §4).
// Thread: constructed and destroyed on the core loop; `post` may be called from any thread.
#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <string>
#include <thread>

namespace fieldlink {

class Lane {
 public:
  explicit Lane(std::string name);
  ~Lane();  // finishes the work already posted, then joins
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  template <class F>
  void post(F&& work) {
    boost::asio::post(context_, std::forward<F>(work));
  }
  boost::asio::io_context::executor_type executor() { return context_.get_executor(); }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  boost::asio::io_context context_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

}  // namespace fieldlink
