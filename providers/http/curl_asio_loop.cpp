#include "providers/http/curl_asio_loop.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <future>
#include <stdexcept>

namespace streamgate {
namespace {

namespace net = boost::asio;

}  // namespace

curl_asio_loop::curl_asio_loop(std::shared_ptr<net::io_context> io)
    : io_(std::move(io)), strand_(net::make_strand(*io_)), watch_(*io_), timer_(*io_) {
  boost::system::error_code ec;
  watch_.assign(multi_.descriptor(), ec);
  if (ec) throw std::runtime_error("cannot set up the upstream I/O loop");
  multi_.set_pump(this);
}

curl_asio_loop::~curl_asio_loop() {
  watch_.release();  // the descriptor is the driver's to close
}

void curl_asio_loop::begin() {
  net::post(strand_, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->await_ready();
  });
}

void curl_asio_loop::post(command c) {
  net::post(strand_, [weak = weak_from_this(), c = std::move(c)]() mutable {
    auto self = weak.lock();
    if (!self || self->multi_.stopped()) return;
    c.run(self->multi_);
    self->multi_.after_action();
    self->arm();
  });
}

void curl_asio_loop::stop() {
  if (strand_.running_in_this_thread() || io_->stopped()) {
    end();  // nothing else runs the driver's handlers now
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  net::post(strand_, [weak = weak_from_this(), done] {
    if (auto self = weak.lock()) self->end();
    done->set_value();
  });
  // An io_context nobody runs any more (its threads were stopped) never runs it.
  if (finished.wait_for(std::chrono::seconds(2)) != std::future_status::ready) end();
}

void curl_asio_loop::await_ready() {
  watch_.async_wait(
      net::posix::descriptor_base::wait_read,
      net::bind_executor(strand_, [weak = weak_from_this()](boost::system::error_code ec) {
        auto self = weak.lock();
        if (ec || !self || self->multi_.stopped()) return;
        self->multi_.poll_ready();
        self->arm();
        self->await_ready();
      }));
}

// One timer for curl's timeout and the transfers' deadlines. curl moves its timeout on
// almost every read: the timer is re-armed only when something falls due sooner, and when
// it fires early the driver just looks again, which costs far less than a cancel per read.
void curl_asio_loop::arm() {
  auto due = multi_.due();
  if (due >= timer_armed_) return;
  timer_armed_ = due;
  timer_.expires_at(due);
  timer_.async_wait(
      net::bind_executor(strand_, [weak = weak_from_this()](boost::system::error_code ec) {
        auto self = weak.lock();
        if (ec || !self || self->multi_.stopped()) return;
        self->timer_armed_ = curl_multi::never;
        self->multi_.on_due();
        self->arm();
      }));
}

void curl_asio_loop::end() {
  multi_.shutdown();
  timer_.cancel();
  watch_.cancel();
}

}  // namespace streamgate
