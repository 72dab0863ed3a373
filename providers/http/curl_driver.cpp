#include "providers/http/curl_driver.hpp"

#include "actors/error_code.hpp"
#include "providers/http/upstream_response.hpp"
#include "telemetry/stats.hpp"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

namespace streamgate {
namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The longest the loop sleeps with nothing to do; commands wake it earlier.
constexpr milliseconds max_poll_wait{1000};

// Idle upstream connections kept for reuse (providers close theirs after a while anyway).
constexpr long idle_connections = 1024;

std::once_flag curl_init_once;

double seconds_since(clock_type::time_point t0, clock_type::time_point now = clock_type::now()) {
  return std::chrono::duration<double>(now - t0).count();
}

// A transfer's labelled histograms, looked up once when it starts (on the caller's thread).
struct upstream_metrics {
  explicit upstream_metrics(const std::string& provider)
      : ttfb(&stats::upstream().ttfb.with({provider})),
        chunk_gap(&stats::upstream().chunk_gap.with({provider})),
        cancel_latency(&stats::upstream().cancel_latency.with({provider})) {}
  metrics::histogram* ttfb;
  metrics::histogram* chunk_gap;
  metrics::histogram* cancel_latency;
};

std::string_view failure_code(CURLcode rc) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      // Only the connect timeout is curl's; the others are our own deadlines.
      return error_code::upstream_connect_timeout;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      return error_code::upstream_connect_failed;
    default:
      return error_code::upstream_interrupted;
  }
}

}  // namespace

struct curl_driver::impl : std::enable_shared_from_this<impl> {
  struct transfer {
    transfer_id id = 0;
    impl* driver = nullptr;
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

    transfer(upstream_request r, transfer_callback cb)
        : request(std::move(r)),
          response(request.adapter, request.max_body_bytes, request.max_line_bytes, request.key),
          on_event(std::move(cb)),
          metrics(request.provider) {}

    // The earliest of this transfer's own deadlines, and the error it would end with.
    std::pair<clock_type::time_point, std::string_view> deadline() const {
      auto& t = request.timeouts;
      std::pair<clock_type::time_point, std::string_view> out{started + t.total,
                                                              error_code::upstream_request_timeout};
      if (sent && !first_byte && request_sent + t.first_byte < out.first)
        out = {request_sent + t.first_byte, error_code::upstream_first_byte_timeout};
      if (first_byte && last_byte + t.idle < out.first)
        out = {last_byte + t.idle, error_code::upstream_idle_timeout};
      return out;
    }
  };

  struct command {
    transfer_id id = 0;
    std::unique_ptr<transfer> start;  // null: cancel `id`
    clock_type::time_point at;        // when the cancel was asked for
  };

  CURLM* multi = nullptr;
  // curl tells us which sockets to watch (socket callback) and when to call it back (timer
  // callback); epoll reports only the ready ones. curl_multi_perform would instead run every
  // transfer on each wake-up, each checking its own socket with a poll() of its own: O(streams)
  // system calls per received chunk at a thousand streams.
  int epoll_fd = -1;
  int wake_fd = -1;  // eventfd: commands and stop wake the loop
  bool curl_timer_set = false;
  clock_type::time_point curl_timer;  // when curl wants CURL_SOCKET_TIMEOUT
  std::mutex mutex;
  std::vector<command> queue;  // guarded by mutex
  bool stopping = false;       // guarded by mutex
  std::atomic<transfer_id> next_id{1};
  std::unordered_map<transfer_id, std::unique_ptr<transfer>> transfers;  // driver thread only
  // The events of the body bytes being handled, reused so a chunk costs no allocation.
  std::vector<stream_event> body_events;
  std::thread thread;
  // No transfer's deadline is earlier than this: the loop scans transfers only when it has
  // passed, not on every wake-up (one per received chunk). Deadlines only move later as
  // bytes arrive; the few events that set an earlier one lower it (deadline_at_most).
  clock_type::time_point next_scan = clock_type::now();

  impl() {
    std::call_once(curl_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    multi = curl_multi_init();
    if (epoll_fd < 0 || wake_fd < 0 || multi == nullptr) {
      close_fds();
      if (multi) curl_multi_cleanup(multi);
      throw std::runtime_error("cannot set up the upstream I/O loop");
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd;
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev);
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &impl::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &impl::on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    // curl's default cache is four connections per transfer running at the time: a lull
    // between bursts would close idle connections the next burst wants again. Keep them.
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, idle_connections);
  }

  ~impl() {
    curl_multi_cleanup(multi);
    close_fds();
  }

  void close_fds() {
    if (epoll_fd >= 0) ::close(epoll_fd);
    if (wake_fd >= 0) ::close(wake_fd);
  }

  void wake() {
    std::uint64_t one = 1;
    // Only fails when the counter is already non-zero (EAGAIN): the loop is woken anyway.
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
  }

  // curl's socket callback: watch `s` for what curl waits for, or stop watching it.
  static int on_socket(CURL*, curl_socket_t s, int what, void* data, void*) {
    auto& d = *static_cast<impl*>(data);
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(d.epoll_fd, EPOLL_CTL_DEL, s, nullptr);  // may be closed already: ignore
      return 0;
    }
    epoll_event ev{};
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    ev.data.fd = s;
    // A socket number curl closed and reused is new to epoll: modify, else add.
    if (epoll_ctl(d.epoll_fd, EPOLL_CTL_MOD, s, &ev) != 0)
      epoll_ctl(d.epoll_fd, EPOLL_CTL_ADD, s, &ev);
    return 0;
  }

  // curl's timer callback: call back with CURL_SOCKET_TIMEOUT after `ms` (-1: no timer).
  static int on_timer(CURLM*, long ms, void* data) {
    auto& d = *static_cast<impl*>(data);
    d.curl_timer_set = ms >= 0;
    if (ms >= 0) d.curl_timer = clock_type::now() + milliseconds{ms};
    return 0;
  }

  // The thread shares ownership: if the driver's last owner lets go on the driver thread
  // itself (an actor cleaned up there), the thread detaches and finishes on its own.
  void start_thread() {
    thread = std::thread([self = shared_from_this()] { self->run(); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> guard{mutex};
      stopping = true;
    }
    wake();
    if (thread.get_id() == std::this_thread::get_id())
      thread.detach();
    else
      thread.join();
  }

  void push(command c) {
    {
      std::lock_guard<std::mutex> guard{mutex};
      queue.push_back(std::move(c));
    }
    wake();
  }

  void run() {
    std::vector<command> batch;
    std::array<epoll_event, 256> ready;
    int running = 0;
    for (;;) {
      {
        std::lock_guard<std::mutex> guard{mutex};
        if (stopping) break;
        batch.swap(queue);
      }
      for (auto& c : batch) {
        if (c.start)
          add_transfer(std::move(c.start));
        else
          on_cancel_command(c.id, c.at);
      }
      batch.clear();
      auto now = clock_type::now();
      if (curl_timer_set && curl_timer <= now) {
        curl_timer_set = false;
        curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
      }
      collect_finished();
      now = clock_type::now();
      if (now >= next_scan) next_scan = expire_deadlines(now);
      auto until = curl_timer_set ? std::min(next_scan, curl_timer) : next_scan;
      // Round up, so a deadline is never polled a millisecond too early in a busy loop.
      auto wait = until <= now
                      ? milliseconds{0}
                      : std::chrono::duration_cast<milliseconds>(until - now) + milliseconds{1};
      int n = epoll_wait(epoll_fd, ready.data(), static_cast<int>(ready.size()),
                         static_cast<int>(wait.count()));
      for (int i = 0; i < n; ++i) {
        auto& ev = ready[static_cast<std::size_t>(i)];
        if (ev.data.fd == wake_fd) {
          std::uint64_t count = 0;
          [[maybe_unused]] auto r = ::read(wake_fd, &count, sizeof count);
          continue;
        }
        int flags = ((ev.events & (EPOLLIN | EPOLLHUP)) ? CURL_CSELECT_IN : 0) |
                    ((ev.events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                    ((ev.events & EPOLLERR) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(multi, ev.data.fd, flags, &running);
      }
      collect_finished();
    }
    while (!transfers.empty()) remove_transfer(*transfers.begin()->second);
  }

  void add_transfer(std::unique_ptr<transfer> tp) {
    auto& t = *tp;
    t.driver = this;
    t.started = t.last_byte = clock_type::now();
    t.easy = curl_easy_init();
    if (t.easy == nullptr) {
      fail_unstarted(t, "curl_easy_init failed");
      return;
    }
    for (auto& h : t.request.headers) t.headers = curl_slist_append(t.headers, h.c_str());
    // No "Expect: 100-continue" round trip before the body: servers rarely answer it.
    t.headers = curl_slist_append(t.headers, "Expect:");
    auto* e = t.easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
    curl_easy_setopt(e, CURLOPT_URL, t.request.url.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t.request.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(t.request.body.size()));
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(
        e, CURLOPT_CONNECTTIMEOUT_MS,
        static_cast<long>(std::max<milliseconds::rep>(1, t.request.timeouts.connect.count())));
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error);
    if (!t.request.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, t.request.ca_file.c_str());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &impl::on_body_bytes);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &impl::on_header_line);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, &impl::on_request_sending);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, &t);
    if (curl_multi_add_handle(multi, e) != CURLM_OK) {
      fail_unstarted(t, "curl_multi_add_handle failed");
      return;
    }
    deadline_at_most(t.deadline().first);
    transfers.emplace(t.id, std::move(tp));
  }

  void fail_unstarted(transfer& t, const char* why) {
    if (t.headers) curl_slist_free_all(t.headers);
    if (t.easy) curl_easy_cleanup(t.easy);
    t.on_event(stream_event::make_error(std::string{error_code::internal_error}, why));
  }

  // The owner no longer wants the stream (it asked at `asked`).
  void on_cancel_command(transfer_id id, clock_type::time_point asked) {
    auto it = transfers.find(id);
    if (it == transfers.end()) return;  // ended already
    auto* cancel_latency = it->second->metrics.cancel_latency;
    remove_transfer(*it->second);
    cancel_latency->observe(seconds_since(asked));
  }

  // Removing an unfinished transfer makes curl close its connection (it cannot be reused
  // mid-response): this is where a cancel reaches the upstream socket.
  void remove_transfer(transfer& t) {
    curl_multi_remove_handle(multi, t.easy);
    curl_easy_cleanup(t.easy);
    curl_slist_free_all(t.headers);
    transfers.erase(t.id);  // destroys t
  }

  void deliver(transfer& t, std::vector<stream_event>& events) {
    for (auto& ev : events) t.on_event(std::move(ev));
    events.clear();
  }

  void collect_finished() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      if (t == nullptr) continue;
      auto rc = msg->data.result;
      std::vector<stream_event> events;
      if (rc == CURLE_OK) {
        t->response.on_complete(events);
      } else {
        std::string detail = t->error[0] != '\0' ? t->error : curl_easy_strerror(rc);
        t->response.on_failure(failure_code(rc), "upstream request failed: " + detail, events);
      }
      deliver(*t, events);
      remove_transfer(*t);
    }
  }

  void deadline_at_most(clock_type::time_point when) { next_scan = std::min(next_scan, when); }

  // Ends transfers past one of their deadlines; returns when the next one falls due.
  clock_type::time_point expire_deadlines(clock_type::time_point now) {
    auto next = now + max_poll_wait;
    std::vector<std::pair<transfer*, std::string_view>> expired;
    for (auto& [id, t] : transfers) {
      auto [when, code] = t->deadline();
      if (when <= now)
        expired.emplace_back(t.get(), code);
      else
        next = std::min(next, when);
    }
    for (auto& [t, code] : expired) {
      std::vector<stream_event> events;
      t->response.on_failure(code, timeout_message(code, t->request.timeouts), events);
      deliver(*t, events);
      remove_transfer(*t);
    }
    return next;
  }

  static std::string timeout_message(std::string_view code, const upstream_timeouts& t) {
    if (code == error_code::upstream_first_byte_timeout)
      return "no response from the provider within " + std::to_string(t.first_byte.count()) + " ms";
    if (code == error_code::upstream_idle_timeout)
      return "the provider sent nothing for " + std::to_string(t.idle.count()) + " ms";
    return "the provider's response took longer than " + std::to_string(t.total.count()) + " ms";
  }

  static void on_first_byte(transfer& t, clock_type::time_point now) {
    t.first_byte = true;
    t.metrics.ttfb->observe(seconds_since(t.sent ? t.request_sent : t.started, now));
    t.last_byte = now;
    t.driver->deadline_at_most(t.deadline().first);  // the idle deadline may be the sooner
  }

  static int on_request_sending(void* data, char*, char*, int, int) {
    auto& t = *static_cast<transfer*>(data);
    t.sent = true;
    t.request_sent = clock_type::now();
    t.driver->deadline_at_most(t.deadline().first);
    return CURL_PREREQFUNC_OK;
  }

  static std::size_t on_header_line(char* ptr, std::size_t size, std::size_t n, void* data) {
    auto& t = *static_cast<transfer*>(data);
    auto now = clock_type::now();
    if (!t.first_byte) on_first_byte(t, now);
    t.last_byte = now;
    t.response.on_header(std::string_view{ptr, size * n});
    return size * n;
  }

  static std::size_t on_body_bytes(char* ptr, std::size_t size, std::size_t n, void* data) {
    auto& t = *static_cast<transfer*>(data);
    auto now = clock_type::now();
    if (t.got_body) t.metrics.chunk_gap->observe(seconds_since(t.last_byte, now));
    t.got_body = true;
    t.last_byte = now;
    auto& events = t.driver->body_events;  // empty between calls: deliver() clears it
    bool go_on = t.response.on_body(std::string_view{ptr, size * n}, events);
    t.driver->deliver(t, events);
    return go_on ? size * n : 0;  // 0 aborts the transfer (CURLE_WRITE_ERROR)
  }
};

curl_driver::curl_driver() : impl_(std::make_shared<impl>()) {
  impl_->start_thread();
}

curl_driver::~curl_driver() {
  impl_->stop();
}

transfer_id curl_driver::start(upstream_request request, transfer_callback on_event) {
  auto id = impl_->next_id.fetch_add(1, std::memory_order_relaxed);
  impl::command c;
  c.id = id;
  c.start = std::make_unique<impl::transfer>(std::move(request), std::move(on_event));
  c.start->id = id;
  impl_->push(std::move(c));
  return id;
}

void curl_driver::cancel(transfer_id id) {
  impl::command c;
  c.id = id;
  c.at = clock_type::now();
  impl_->push(std::move(c));
}

}  // namespace streamgate
