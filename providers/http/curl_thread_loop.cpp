#include "providers/http/curl_thread_loop.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <stdexcept>

namespace streamgate {
namespace {

using clock_type = curl_multi::clock_type;

// epoll_wait's timeout for a driver due at `due`.
int wait_ms(clock_type::time_point due) {
  if (due == curl_multi::never) return -1;
  auto now = clock_type::now();
  if (due <= now) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(due - now);
  return static_cast<int>(std::min(ms, curl_multi::max_poll_wait).count());
}

}  // namespace

curl_thread_loop::curl_thread_loop() : wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_;
  if (wake_ < 0 || ::epoll_ctl(multi_.descriptor(), EPOLL_CTL_ADD, wake_, &ev) != 0) {
    if (wake_ >= 0) ::close(wake_);
    throw std::runtime_error("cannot set up the upstream I/O loop");
  }
  multi_.set_pump(this);
}

curl_thread_loop::~curl_thread_loop() {
  ::close(wake_);
}

void curl_thread_loop::begin() {
  thread_ = std::thread([self = shared_from_this()] { self->run(); });
}

void curl_thread_loop::post(command c) {
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    first = queue_.empty();
    queue_.push_back(std::move(c));
  }
  if (first) wake();  // a non-empty queue has a wake-up on its way already
}

void curl_thread_loop::stop() {
  if (thread_.get_id() == std::this_thread::get_id()) {
    // From inside one of the driver's own callbacks: curl must not be called from there.
    // The loop stops once the callback returns; it holds what it needs.
    leaving_ = true;
    thread_.detach();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake();
  thread_.join();
}

void curl_thread_loop::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_, &one, sizeof one);  // fails only if already due
}

void curl_thread_loop::run() {
  epoll_event events[curl_multi::max_events];
  std::vector<command> commands;
  for (;;) {
    int n =
        ::epoll_wait(multi_.descriptor(), events, curl_multi::max_events, wait_ms(multi_.due()));
    bool woken = false;
    int sockets = 0;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == wake_)
        woken = true;
      else
        events[sockets++] = events[i];
    }
    // Commands first: a cancel takes effect before this round's chunks are read, which
    // under load can be a few milliseconds of work.
    if (woken) {
      std::uint64_t count = 0;
      [[maybe_unused]] auto r = ::read(wake_, &count, sizeof count);
      bool stop = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        commands.swap(queue_);
        stop = stop_;
      }
      for (auto& c : commands) c.run(multi_);
      commands.clear();
      if (stop) break;
    }
    multi_.on_ready(events, sockets);
    if (leaving_) break;
    if (multi_.due() <= clock_type::now()) multi_.on_due();
  }
  multi_.shutdown();
}

}  // namespace streamgate
