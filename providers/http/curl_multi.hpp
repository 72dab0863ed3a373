#pragma once

// Private to the curl driver (curl_driver.hpp stays free of curl.h): the libcurl multi handle
// and the transfers in it.

#include "providers/http/curl_driver.hpp"
#include "providers/http/upstream_response.hpp"

#include <curl/curl.h>
#include <sys/epoll.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace streamgate {

namespace metrics {
class histogram;
}  // namespace metrics

// One libcurl multi handle and its transfers: curl's sockets in an epoll set of its own,
// curl's callbacks, the transfers' deadlines and their stream events. It does no waiting of
// its own: a curl_loop waits on descriptor() and due(), and calls it back.
class curl_multi {
 public:
  using clock_type = std::chrono::steady_clock;
  static constexpr clock_type::time_point never = clock_type::time_point::max();
  // The longest the deadline timer waits before looking at the transfers again.
  static constexpr std::chrono::milliseconds max_poll_wait{1000};
  // Ready sockets taken per epoll_wait; the rest are reported by the next one.
  static constexpr int max_events = 256;

  struct transfer;

  // What runs the driver: a thread of its own blocking in epoll_wait (curl_thread_loop), or
  // an io_context's reactor watching the driver's epoll descriptor (curl_asio_loop).
  // Everything in curl_multi runs on that one thread, or strand, only.
  struct pump {
    virtual ~pump() = default;
    // The time the driver must be called back at (curl's timeout, a deadline) moved sooner.
    virtual void due_changed() = 0;
  };

  curl_multi();
  ~curl_multi();
  curl_multi(const curl_multi&) = delete;
  curl_multi& operator=(const curl_multi&) = delete;

  void set_pump(pump* p) { runner_ = p; }
  // The epoll set of curl's sockets: readable while one of them is ready.
  int descriptor() const { return epfd_; }
  bool stopped() const { return stopped_; }

  void add_transfer(std::unique_ptr<transfer> tp);
  // The owner no longer wants the stream (it asked at `asked`).
  void cancel_transfer(transfer_id id, clock_type::time_point asked);

  // Acts on the ready sockets in `events` (from epoll_wait on descriptor()).
  void on_ready(const epoll_event* events, int n);
  // Takes whatever is ready now, without waiting.
  void poll_ready();
  // When the pump must call on_due at the latest.
  clock_type::time_point due() const;
  void on_due();
  void after_action();
  // Removes every transfer and lets go of every socket: the thread or io_context may go on,
  // this driver's part in it ends.
  void shutdown();

 private:
  static int on_socket(CURL*, curl_socket_t s, int what, void* data, void*);
  static int on_close(void* data, curl_socket_t s);
  static int on_timer(CURLM*, long ms, void* data);
  static void on_first_byte(transfer& t, clock_type::time_point now);
  static int on_request_sending(void* data, char*, char*, int, int);
  static std::size_t on_header_line(char* ptr, std::size_t size, std::size_t n, void* data);
  static std::size_t on_body_bytes(char* ptr, std::size_t size, std::size_t n, void* data);

  CURL* take_easy();
  void give_back_easy(CURL* e);
  void unwatch(curl_socket_t s);
  void fail_unstarted(transfer& t, const char* why);
  void remove_transfer(transfer& t);
  void deliver(transfer& t, std::vector<stream_event>& events);
  void collect_finished();
  void deadline_at_most(clock_type::time_point when);
  clock_type::time_point expire_deadlines(clock_type::time_point now);

  // curl's sockets sit in an epoll set of the driver's own, level-triggered: a socket is
  // registered when curl first asks for it and changed only when what curl waits for
  // changes, so a chunk that arrives costs one epoll_wait (shared by every socket ready at
  // the time) and no re-arming. Asio's waits re-armed the socket with an epoll_ctl per chunk.
  pump* runner_ = nullptr;
  CURLM* multi_ = nullptr;
  int epfd_ = -1;
  std::unordered_map<curl_socket_t, int> sockets_;  // what curl waits for: CURL_POLL_IN/OUT/INOUT
  clock_type::time_point curl_due_ = never;         // CURL_SOCKET_TIMEOUT
  bool stopped_ = false;
  std::unordered_map<transfer_id, std::unique_ptr<transfer>> transfers_;
  // The events of the body bytes being handled, reused so a chunk costs no allocation.
  std::vector<stream_event> body_events_;
  // Easy handles of ended transfers, reset, for the next ones: curl_easy_init and
  // curl_easy_cleanup were ~1.6 % of the gateway's instructions per stream. A reset handle
  // keeps none of its last transfer's options (URL, headers, CA file); its connection stays
  // in the multi handle's cache either way. Bounded: each spare holds its receive buffer.
  std::vector<CURL*> spare_easy_;
  static constexpr std::size_t max_spare_easy = 64;
  // No transfer's deadline is earlier than this: transfers are scanned only when it has
  // passed, not on every received chunk. Deadlines only move later as bytes arrive; the few
  // events that set an earlier one lower it (deadline_at_most).
  clock_type::time_point next_scan_ = never;
};

// One upstream request in the multi handle. Made on the thread that starts it, so that the
// metric lookups below cost the driver's thread nothing.
struct curl_multi::transfer {
  // A transfer's labelled histograms, looked up once when it starts (on the caller's thread).
  struct upstream_metrics {
    explicit upstream_metrics(const std::string& provider);
    metrics::histogram* ttfb;
    metrics::histogram* chunk_gap;
    metrics::histogram* cancel_latency;
  };

  transfer(upstream_request r, transfer_callback cb);

  // The earliest of this transfer's own deadlines, and the error it would end with.
  std::pair<clock_type::time_point, std::string_view> deadline() const;

  transfer_id id = 0;
  curl_multi* driver = nullptr;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  upstream_request request;  // owns the body curl sends (CURLOPT_POSTFIELDS does not copy)
  upstream_response response;
  transfer_callback on_event;
  clock_type::time_point started;
  clock_type::time_point request_sent;  // set once the connection is up
  clock_type::time_point last_byte;
  bool sent = false;
  bool first_byte = false;
  bool got_body = false;
  char error[CURL_ERROR_SIZE] = {0};
  upstream_metrics metrics;
};

}  // namespace streamgate
