#pragma once

// Private to the curl driver.

#include "providers/http/curl_loop.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <memory>

namespace streamgate {

// On someone else's io_context (the HTTP server's I/O threads): Asio's reactor watches the
// driver's epoll descriptor, which is readable while one of curl's sockets is ready; commands
// and the timer run on a strand. Its handlers hold it weakly: the loop owns the io_context,
// so a handler holding it strongly that a stopped io_context never runs (nor destroys) would
// keep both alive for ever, with every curl handle of the driver.
class curl_asio_loop final : public curl_loop, public std::enable_shared_from_this<curl_asio_loop> {
 public:
  explicit curl_asio_loop(std::shared_ptr<boost::asio::io_context> io);
  ~curl_asio_loop() override;

  // Starts watching the driver's descriptor.
  void begin();
  void post(command c) override;
  void stop() override;
  void due_changed() override { arm(); }

 private:
  void await_ready();
  void arm();
  void end();

  std::shared_ptr<boost::asio::io_context> io_;  // outlives the handlers below
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::posix::stream_descriptor watch_;
  boost::asio::steady_timer timer_;
  curl_multi::clock_type::time_point timer_armed_ = curl_multi::never;
};

}  // namespace streamgate
