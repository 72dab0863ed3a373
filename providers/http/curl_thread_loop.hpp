#pragma once

// Private to the curl driver.

#include "providers/http/curl_loop.hpp"

#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace streamgate {

// A thread of its own (the default; embedding without the HTTP server, tests, benchmarks):
// it blocks in epoll_wait on the driver's set, where an eventfd stands for posted commands.
class curl_thread_loop final : public curl_loop,
                               public std::enable_shared_from_this<curl_thread_loop> {
 public:
  curl_thread_loop();
  ~curl_thread_loop() override;

  // Starts the thread, which holds the loop until it ends.
  void begin();
  void post(command c) override;
  void stop() override;
  // run() reads the driver's due time before every wait, on the same thread.
  void due_changed() override {}

 private:
  void wake();
  void run();

  int wake_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<command> queue_;  // guarded by mu_
  bool stop_ = false;           // guarded by mu_
  bool leaving_ = false;        // the loop's own thread only
};

}  // namespace streamgate
