#pragma once

#include "tools/loadgen/stream_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>

// Internal to loadgen: what every protocol's stream shares.
namespace streamgate::loadgen {

inline double ms_since(clock_type::time_point t0, clock_type::time_point t = clock_type::now()) {
  return std::chrono::duration<double, std::milli>(t - t0).count();
}

inline boost::asio::ip::tcp::endpoint endpoint_of(const endpoint& e) {
  return {boost::asio::ip::make_address(e.host), e.port};
}

inline clock_type::duration ms_duration(double ms) {
  return std::chrono::duration_cast<clock_type::duration>(
      std::chrono::duration<double, std::milli>(ms));
}

// A slow reader's socket: opened before the connect with a small receive buffer, so the
// kernel does not absorb what the reader is slow to take and the server sees it.
inline void prepare_socket(boost::asio::ip::tcp::socket& s, const options& o) {
  if (o.read_delay_ms <= 0) return;
  boost::beast::error_code ec;
  s.open(boost::asio::ip::tcp::v4(), ec);
  s.set_option(boost::asio::socket_base::receive_buffer_size(4096), ec);
}

using ws_type = boost::beast::websocket::stream<boost::beast::tcp_stream>;

// --keep-alive: what a slot keeps between two of its streams. The read buffer goes with the
// connection: whatever was read past one response belongs to the next.
struct kept_connection {
  std::unique_ptr<boost::beast::tcp_stream> http;  // SSE, long-poll
  boost::beast::flat_buffer buf;
  std::unique_ptr<ws_type> ws;
  unsigned ws_streams = 0;  // streams started on `ws`, which numbers their ids
};

// Runs `f` after `d` on `timer`, unless the wait is cancelled (the stream finished).
template <class Timer, class F>
void wait_then(Timer& timer, clock_type::duration d, F f) {
  timer.expires_after(d);
  timer.async_wait([f](boost::beast::error_code ec) {
    if (!ec) f();
  });
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
        done_(std::move(done)),
        rng_(ctx.opts.seed * 0x9E3779B97F4A7C15ull + ctx.next_index.fetch_add(1)) {
    if (auto range = ctx.opts.disconnect_after)
      disconnect_at_ = std::uniform_int_distribution<unsigned>(range->first, range->second)(rng_);
  }
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

  // Each event's seq; false for one not above the last seen (a duplicate: its text is not
  // taken again). Gaps are allowed: the usage event's seq is not sent on every transport.
  bool accept_seq(std::uint64_t seq) {
    if (seq <= last_seq_) {
      ++r_.seq_errors;
      return false;
    }
    last_seq_ = seq;
    return true;
  }

  // The first terminal event decides the outcome; any further one is counted.
  void on_terminal(std::string outcome) {
    if (r_.terminals++ == 0) r_.outcome = std::move(outcome);
  }

  bool finished() const { return !done_; }

  bool disconnect_due() const {
    return disconnect_at_ && !disconnected_ && r_.deltas >= *disconnect_at_;
  }

  // Whether a lost connection may be resumed (`session_` must be known too).
  bool can_resume() const { return !session_.empty() && restart_allowed(); }
  // A lost connection may be replaced (--resume), within the stream's budget of resumes.
  bool restart_allowed() const {
    return ctx_.opts.resume && r_.resumes < ctx_.opts.max_resumes && clock_type::now() < deadline_;
  }

  // A connection lost before the terminal event: true when the stream resumes (counted; the
  // caller reconnects after resume_delay()), false when it ended here.
  bool begin_resume(const char* stage, boost::beast::error_code ec) {
    if (!can_resume()) {
      if (ec)
        fail(stage, ec);
      else
        finish(false, stage);
      return false;
    }
    ++r_.resumes;
    return true;
  }

  clock_type::duration resume_delay() {
    return ms_duration(std::uniform_real_distribution<double>(0, ctx_.opts.resume_delay_ms)(rng_));
  }

  clock_type::duration read_delay() const { return ms_duration(ctx_.opts.read_delay_ms); }

  void mark_cancel() {
    r_.cancel_sent = true;
    r_.cancel_at = clock_type::now();
  }

  // `fallback` is the outcome when no terminal event or refusal set one.
  void finish(bool ok, std::string error = {}, const char* fallback = "no_terminal") {
    if (!done_) return;
    r_.ok = ok;
    if (!error.empty()) r_.error = std::move(error);  // else the terminal event's, if any
    if (ok) r_.error.clear();
    r_.duration_ms = ms_since(t0_);
    if (r_.outcome.empty()) r_.outcome = fallback;
    check_text();
    close_socket();
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(r_));
  }

  void fail(const char* stage, boost::beast::error_code ec) {
    const char* outcome = "no_terminal";
    if (ec == boost::beast::error::timeout)
      outcome = "timeout";
    else if (std::string_view{stage} == "connect" && session_.empty())
      outcome = "connect_failed";  // never reached the server; after a session: no terminal
    finish(false, std::string{stage} + ": " + ec.message(), outcome);
  }

  // --expect-text: a done stream carries the whole answer, any other a prefix of it.
  void check_text() {
    auto& want = ctx_.expected_text;
    if (want.empty()) return;
    r_.text_checked = true;
    r_.text_ok = r_.outcome == "done" ? text_ == want : want.compare(0, text_.size(), text_) == 0;
    if (r_.text_ok) return;
    std::size_t at = 0;
    while (at < text_.size() && at < want.size() && text_[at] == want[at]) ++at;
    r_.text_problem = (session_.empty() ? std::string{"(no session)"} : session_) + " " +
                      r_.outcome + " after " + std::to_string(r_.resumes) + " resumes: got " +
                      std::to_string(text_.size()) + " bytes, expected " +
                      std::to_string(want.size()) + ", first difference at byte " +
                      std::to_string(at);
  }

  // --keep-alive: the stream's first request went on its slot's kept connection, which the
  // server may have closed while it idled (a keep-alive timeout). A failure before any answer
  // is then not the stream's: the request goes again, once, on a new connection.
  bool retry_on_new_connection() { return std::exchange(on_kept_, false); }

  const run_context& ctx_;
  // The stream's start, from which TTFT and duration count: everything this request costs
  // its client up to the first token. On a new connection that includes the connect (and the
  // WebSocket handshake); on a kept one (--keep-alive) the request is written at once, so it
  // is the moment of that write.
  clock_type::time_point t0_;
  clock_type::time_point deadline_;
  clock_type::time_point last_delta_;
  stream_result r_;
  std::function<void(stream_result)> done_;
  std::mt19937_64 rng_;
  std::optional<unsigned> disconnect_at_;
  bool disconnected_ = false;  // the one forced disconnect happened
  std::uint64_t last_seq_ = 0;
  std::string session_;
  std::string text_;       // choice 0's content, across resumes
  bool on_kept_ = false;   // the request is on a kept connection, and nothing came back yet
  bool reusable_ = false;  // the last response ended cleanly on a connection that stays open
};

}  // namespace streamgate::loadgen
