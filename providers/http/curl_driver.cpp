#include "providers/http/curl_driver.hpp"

#include "actors/error_code.hpp"
#include "providers/http/upstream_response.hpp"
#include "telemetry/stats.hpp"

#include <curl/curl.h>
#include <unistd.h>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <chrono>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

namespace streamgate {
namespace {

namespace net = boost::asio;

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The longest the deadline timer waits before looking at the transfers again.
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

  // One socket curl asked us to watch. The descriptor is curl's: released, never closed.
  struct socket_watch {
    socket_watch(net::io_context& ioc, curl_socket_t s) : fd(s), sd(ioc) {}
    curl_socket_t fd;
    net::posix::stream_descriptor sd;
    int want = 0;  // CURL_POLL_IN / OUT / INOUT
    bool reading = false;
    bool writing = false;
    bool removed = false;
  };

  // curl tells us which sockets to watch (socket callback) and when to call it back (timer
  // callback); Asio's reactor reports only the ready ones. On the I/O threads' own
  // io_context, a chunk that arrives is read, parsed, logged and written to its client on one
  // thread, without waking another (docs/architecture.md, "Upstream I/O").
  net::io_context& ioc;  // outlives this: the curl_driver holds it
  net::strand<net::io_context::executor_type> strand;
  CURLM* multi = nullptr;
  std::unordered_map<curl_socket_t, std::shared_ptr<socket_watch>> sockets;
  // One timer for curl's timeout and the transfers' deadlines. curl moves its timeout on
  // almost every read: the timer is re-armed only when something falls due sooner, and
  // when it fires early it just looks again, which costs far less than a cancel per read.
  net::steady_timer timer;
  clock_type::time_point timer_armed = clock_type::time_point::max();
  clock_type::time_point curl_due = clock_type::time_point::max();  // CURL_SOCKET_TIMEOUT
  bool stopped = false;
  std::atomic<transfer_id> next_id{1};
  std::unordered_map<transfer_id, std::unique_ptr<transfer>> transfers;  // on the strand only
  // The events of the body bytes being handled, reused so a chunk costs no allocation.
  std::vector<stream_event> body_events;
  // No transfer's deadline is earlier than this: transfers are scanned only when it has
  // passed, not on every received chunk. Deadlines only move later as bytes arrive; the few
  // events that set an earlier one lower it (deadline_at_most).
  clock_type::time_point next_scan = clock_type::time_point::max();

  explicit impl(net::io_context& io) : ioc(io), strand(net::make_strand(io)), timer(io) {
    std::call_once(curl_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    multi = curl_multi_init();
    if (multi == nullptr) throw std::runtime_error("cannot set up the upstream I/O loop");
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &impl::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &impl::on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    // curl's default cache is four connections per transfer running at the time: a lull
    // between bursts would close idle connections the next burst wants again. Keep them.
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, idle_connections);
  }

  ~impl() {
    if (multi) curl_multi_cleanup(multi);
  }

  // Runs `f` on the strand, keeping the driver alive until it has run.
  template <class F>
  void on_strand(F&& f) {
    net::post(strand, [self = shared_from_this(), f = std::forward<F>(f)]() mutable {
      if (!self->stopped) f(*self);
    });
  }

  // curl's socket callback: watch `s` for what curl waits for, or stop watching it.
  static int on_socket(CURL*, curl_socket_t s, int what, void* data, void*) {
    auto& d = *static_cast<impl*>(data);
    auto it = d.sockets.find(s);
    if (what == CURL_POLL_REMOVE) {
      if (it != d.sockets.end()) d.forget(it);
      return 0;
    }
    if (it == d.sockets.end()) {
      auto w = std::make_shared<socket_watch>(d.ioc, s);
      boost::system::error_code ec;
      w->sd.assign(s, ec);
      if (ec) return -1;  // curl fails the transfer
      it = d.sockets.emplace(s, std::move(w)).first;
    }
    it->second->want = what;
    d.arm(it->second);
    return 0;
  }

  // curl closes a socket: stop watching it first (a socket number is soon reused).
  static int on_close(void* data, curl_socket_t s) {
    auto& d = *static_cast<impl*>(data);
    auto it = d.sockets.find(s);
    if (it != d.sockets.end()) d.forget(it);
    return ::close(s);
  }

  void forget(std::unordered_map<curl_socket_t, std::shared_ptr<socket_watch>>::iterator it) {
    auto& w = *it->second;
    w.removed = true;
    w.want = 0;
    w.sd.release();  // cancels its waits; curl closes the descriptor itself
    sockets.erase(it);
  }

  // Waits for what curl wants on the socket. A wait is queued again before curl reads, so
  // bytes that arrive while curl works still find one (Asio's epoll is edge-triggered).
  void arm(const std::shared_ptr<socket_watch>& w) {
    if (w->want & CURL_POLL_IN)
      wait(w, w->reading, net::posix::descriptor_base::wait_read, CURL_POLL_IN, CURL_CSELECT_IN);
    if (w->want & CURL_POLL_OUT)
      wait(w, w->writing, net::posix::descriptor_base::wait_write, CURL_POLL_OUT, CURL_CSELECT_OUT);
  }

  // One wait of `type` at a time per socket; `pending` (a flag of *w) says one is queued.
  void wait(const std::shared_ptr<socket_watch>& w, bool& pending,
            net::posix::descriptor_base::wait_type type, int poll_flag, int select_flag) {
    if (pending) return;
    pending = true;
    w->sd.async_wait(type,
                     net::bind_executor(strand, [self = shared_from_this(), w, &pending, poll_flag,
                                                 select_flag](boost::system::error_code ec) {
                       pending = false;
                       if (!ec) self->on_ready(w, poll_flag, select_flag);
                     }));
  }

  void on_ready(const std::shared_ptr<socket_watch>& w, int poll_flag, int select_flag) {
    if (stopped || w->removed || !(w->want & poll_flag)) return;
    arm(w);
    int running = 0;
    curl_multi_socket_action(multi, w->fd, select_flag, &running);
    after_action();
  }

  // curl's timer callback: call back with CURL_SOCKET_TIMEOUT after `ms` (-1: no timer).
  // curl must not be called from inside its own callback, so even 0 goes through the timer.
  static int on_timer(CURLM*, long ms, void* data) {
    auto& d = *static_cast<impl*>(data);
    d.curl_due = ms < 0 ? clock_type::time_point::max() : clock_type::now() + milliseconds{ms};
    d.arm_timer();
    return 0;
  }

  void after_action() {
    collect_finished();
    auto now = clock_type::now();
    if (now >= next_scan) next_scan = expire_deadlines(now);
    arm_timer();
  }

  void arm_timer() {
    auto due = std::min(curl_due, transfers.empty() ? clock_type::time_point::max() : next_scan);
    if (due >= timer_armed) return;
    timer_armed = due;
    timer.expires_at(due);
    timer.async_wait(
        net::bind_executor(strand, [self = shared_from_this()](boost::system::error_code ec) {
          if (ec || self->stopped) return;
          self->on_timer_fired();
        }));
  }

  void on_timer_fired() {
    timer_armed = clock_type::time_point::max();
    if (curl_due <= clock_type::now()) {
      curl_due = clock_type::time_point::max();
      int running = 0;
      curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    after_action();
  }

  // Removes every transfer and lets go of every socket and timer: the io_context may go on
  // (it is the I/O threads'), this driver's part in it ends.
  void shutdown() {
    if (stopped) return;
    while (!transfers.empty()) remove_transfer(*transfers.begin()->second);
    while (!sockets.empty()) forget(sockets.begin());
    timer.cancel();
    stopped = true;
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
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &impl::on_close);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
    if (curl_multi_add_handle(multi, e) != CURLM_OK) {
      fail_unstarted(t, "curl_multi_add_handle failed");
      return;
    }
    auto deadline = t.deadline().first;
    transfers.emplace(t.id, std::move(tp));
    deadline_at_most(deadline);
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

  void deadline_at_most(clock_type::time_point when) {
    next_scan = std::min(next_scan, when);
    arm_timer();
  }

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

// A driver with a thread of its own (embedding without the HTTP server, tests, benchmarks).
struct curl_driver::own_loop {
  explicit own_loop(net::io_context& io) : work(net::make_work_guard(io)) {}
  net::executor_work_guard<net::io_context::executor_type> work;
  std::thread thread;
};

curl_driver::curl_driver()
    : io_(std::make_shared<net::io_context>(1)), impl_(std::make_shared<impl>(*io_)) {
  loop_ = std::make_unique<own_loop>(*io_);
  loop_->thread = std::thread([io = io_] { io->run(); });
}

curl_driver::curl_driver(std::shared_ptr<net::io_context> io)
    : io_(std::move(io)), impl_(std::make_shared<impl>(*io_)) {}

curl_driver::~curl_driver() {
  auto& d = *impl_;
  if (d.strand.running_in_this_thread() || io_->stopped()) {
    d.shutdown();  // nothing else runs the driver's handlers now
  } else {
    auto done = std::make_shared<std::promise<void>>();
    auto finished = done->get_future();
    net::post(d.strand, [self = impl_, done] {
      self->shutdown();
      done->set_value();
    });
    // An io_context nobody runs any more (its threads were stopped) never runs it.
    if (finished.wait_for(std::chrono::seconds(2)) != std::future_status::ready) d.shutdown();
  }
  if (loop_) {
    loop_->work.reset();  // run() returns once the cancelled waits have completed
    if (loop_->thread.get_id() == std::this_thread::get_id())
      loop_->thread.detach();
    else
      loop_->thread.join();
  }
}

transfer_id curl_driver::start(upstream_request request, transfer_callback on_event) {
  auto id = impl_->next_id.fetch_add(1, std::memory_order_relaxed);
  auto t = std::make_unique<impl::transfer>(std::move(request), std::move(on_event));
  t->id = id;
  impl_->on_strand([t = std::move(t)](impl& d) mutable { d.add_transfer(std::move(t)); });
  return id;
}

void curl_driver::cancel(transfer_id id) {
  auto asked = clock_type::now();
  impl_->on_strand([id, asked](impl& d) {
    d.on_cancel_command(id, asked);
    d.after_action();
  });
}

}  // namespace streamgate
