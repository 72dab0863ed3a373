#pragma once

#include "tools/loadgen/stream_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>

#include <chrono>
#include <functional>
#include <string>

// Internal to loadgen: what every protocol's stream shares.
namespace streamgate::loadgen {

inline double ms_since(clock_type::time_point t0, clock_type::time_point t = clock_type::now()) {
  return std::chrono::duration<double, std::milli>(t - t0).count();
}

inline boost::asio::ip::tcp::endpoint endpoint_of(const endpoint& e) {
  return {boost::asio::ip::make_address(e.host), e.port};
}

// What every protocol shares: the clock, the result and its single report. Subclasses own
// their socket.
class stream_base {
 public:
  stream_base(const run_context& ctx, std::function<void(stream_result)> done)
      : ctx_(ctx),
        t0_(clock_type::now()),
        deadline_(t0_ + std::chrono::duration_cast<clock_type::duration>(
                            std::chrono::duration<double>(ctx.opts.timeout_s))),
        done_(std::move(done)) {}
  virtual ~stream_base() = default;

 protected:
  // Closes the protocol's socket (called once, from finish).
  virtual void close_socket() = 0;

  void on_delta(clock_type::time_point now) {
    if (r_.deltas++ == 0)
      r_.ttft_ms = ms_since(t0_, now);
    else
      r_.gaps_ms.push_back(ms_since(last_delta_, now));
    last_delta_ = now;
  }

  bool cancel_due() const {
    return ctx_.opts.cancel_after && !r_.cancel_sent && r_.deltas >= *ctx_.opts.cancel_after;
  }

  void mark_cancel() {
    r_.cancel_sent = true;
    r_.cancel_at = clock_type::now();
  }

  void finish(bool ok, std::string error = {}) {
    if (!done_) return;
    r_.ok = ok;
    r_.error = std::move(error);
    r_.duration_ms = ms_since(t0_);
    close_socket();
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(r_));
  }

  void fail(const char* stage, boost::beast::error_code ec) {
    finish(false, std::string{stage} + ": " + ec.message());
  }

  const run_context& ctx_;
  clock_type::time_point t0_;
  clock_type::time_point deadline_;
  clock_type::time_point last_delta_;
  stream_result r_;
  std::function<void(stream_result)> done_;
};

}  // namespace streamgate::loadgen
