#include "providers/http/curl_driver.hpp"

#include "actors/error_code.hpp"
#include "providers/http/upstream_response.hpp"
#include "telemetry/stats.hpp"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <cerrno>
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

// Ready sockets taken per epoll_wait; the rest are reported by the next one.
constexpr int max_events = 256;

constexpr auto never = clock_type::time_point::max();

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

struct curl_driver::impl {
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

  // What runs the driver: a thread of its own blocking in epoll_wait (own_loop), or an
  // io_context's reactor watching the driver's epoll descriptor (asio_loop). Everything in
  // impl runs on that one thread, or strand, only.
  struct pump {
    virtual ~pump() = default;
    // The time the driver must be called back at (curl's timeout, a deadline) moved sooner.
    virtual void due_changed() = 0;
  };

  // curl's sockets sit in an epoll set of the driver's own, level-triggered: a socket is
  // registered when curl first asks for it and changed only when what curl waits for
  // changes, so a chunk that arrives costs one epoll_wait (shared by every socket ready at
  // the time) and no re-arming. Asio's waits re-armed the socket with an epoll_ctl per chunk.
  pump* runner = nullptr;
  CURLM* multi = nullptr;
  int epfd = -1;
  std::unordered_map<curl_socket_t, int> sockets;  // what curl waits for: CURL_POLL_IN/OUT/INOUT
  clock_type::time_point curl_due = never;         // CURL_SOCKET_TIMEOUT
  bool stopped = false;
  std::unordered_map<transfer_id, std::unique_ptr<transfer>> transfers;
  // The events of the body bytes being handled, reused so a chunk costs no allocation.
  std::vector<stream_event> body_events;
  // Easy handles of ended transfers, reset, for the next ones: curl_easy_init and
  // curl_easy_cleanup were ~1.6 % of the gateway's instructions per stream. A reset handle
  // keeps none of its last transfer's options (URL, headers, CA file); its connection stays
  // in the multi handle's cache either way. Bounded: each spare holds its receive buffer.
  std::vector<CURL*> spare_easy;
  static constexpr std::size_t max_spare_easy = 64;

  CURL* take_easy() {
    if (spare_easy.empty()) return curl_easy_init();
    auto* e = spare_easy.back();
    spare_easy.pop_back();
    return e;
  }

  void give_back_easy(CURL* e) {
    if (spare_easy.size() >= max_spare_easy) {
      curl_easy_cleanup(e);
      return;
    }
    curl_easy_reset(e);
    spare_easy.push_back(e);
  }
  // No transfer's deadline is earlier than this: transfers are scanned only when it has
  // passed, not on every received chunk. Deadlines only move later as bytes arrive; the few
  // events that set an earlier one lower it (deadline_at_most).
  clock_type::time_point next_scan = never;

  impl() {
    std::call_once(curl_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    epfd = ::epoll_create1(EPOLL_CLOEXEC);
    multi = curl_multi_init();
    if (epfd < 0 || multi == nullptr) {
      if (epfd >= 0) ::close(epfd);
      if (multi != nullptr) curl_multi_cleanup(multi);
      throw std::runtime_error("cannot set up the upstream I/O loop");
    }
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &impl::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &impl::on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    // curl's default cache is four connections per transfer running at the time: a lull
    // between bursts would close idle connections the next burst wants again. Keep them.
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, idle_connections);
  }

  ~impl() {
    for (auto* e : spare_easy) curl_easy_cleanup(e);
    curl_multi_cleanup(multi);  // closes cached connections through on_close: epfd first
    ::close(epfd);
  }

  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  // curl's socket callback: watch `s` for what curl waits for, or stop watching it.
  static int on_socket(CURL*, curl_socket_t s, int what, void* data, void*) {
    auto& d = *static_cast<impl*>(data);
    if (what == CURL_POLL_REMOVE) {
      d.unwatch(s);
      return 0;
    }
    auto [it, added] = d.sockets.try_emplace(s, what);
    if (!added && it->second == what) return 0;
    it->second = what;
    epoll_event ev{};
    ev.data.fd = s;
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    int rc = ::epoll_ctl(d.epfd, added ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, s, &ev);
    if (rc != 0 && (errno == EEXIST || errno == ENOENT))  // out of step with the kernel's set
      rc = ::epoll_ctl(d.epfd, errno == EEXIST ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev);
    if (rc != 0) {
      d.sockets.erase(s);
      return -1;  // curl fails the transfer
    }
    return 0;
  }

  // curl closes a socket: stop watching it first (a socket number is soon reused).
  static int on_close(void* data, curl_socket_t s) {
    static_cast<impl*>(data)->unwatch(s);
    return ::close(s);
  }

  void unwatch(curl_socket_t s) {
    if (sockets.erase(s) == 0) return;
    epoll_event ev{};
    ::epoll_ctl(epfd, EPOLL_CTL_DEL, s, &ev);
  }

  // Acts on the ready sockets in `events` (from epoll_wait on epfd).
  void on_ready(const epoll_event* events, int n) {
    for (int i = 0; i < n && !stopped; ++i) {
      // Closed since epoll_wait reported it (its transfer ended or was cancelled earlier in
      // this round): curl no longer knows the socket.
      if (sockets.count(events[i].data.fd) == 0) continue;
      auto e = events[i].events;
      int flags = ((e & EPOLLIN) ? CURL_CSELECT_IN : 0) | ((e & EPOLLOUT) ? CURL_CSELECT_OUT : 0);
      // An error or hang-up with nothing to read or write: curl ends the transfer, which
      // stops the socket reporting it again (the set is level-triggered).
      if (flags == 0) flags = CURL_CSELECT_ERR;
      int running = 0;
      curl_multi_socket_action(multi, events[i].data.fd, flags, &running);
    }
    after_action();
  }

  // Takes whatever is ready now, without waiting.
  void poll_ready() {
    epoll_event events[max_events];
    int n = ::epoll_wait(epfd, events, max_events, 0);
    on_ready(events, std::max(n, 0));
  }

  // curl's timer callback: call back with CURL_SOCKET_TIMEOUT after `ms` (-1: no timer).
  // curl must not be called from inside its own callback, so even 0 waits for the pump.
  static int on_timer(CURLM*, long ms, void* data) {
    auto& d = *static_cast<impl*>(data);
    auto due = ms < 0 ? never : clock_type::now() + milliseconds{ms};
    bool sooner = due < d.curl_due;
    d.curl_due = due;
    if (sooner && d.runner) d.runner->due_changed();
    return 0;
  }

  // When the pump must call on_due at the latest.
  clock_type::time_point due() const {
    return std::min(curl_due, transfers.empty() ? never : next_scan);
  }

  void on_due() {
    if (stopped) return;
    if (curl_due <= clock_type::now()) {
      curl_due = never;
      int running = 0;
      curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    after_action();
  }

  void after_action() {
    if (stopped) return;
    collect_finished();
    auto now = clock_type::now();
    if (now >= next_scan) next_scan = expire_deadlines(now);
  }

  // Removes every transfer and lets go of every socket: the thread or io_context may go on,
  // this driver's part in it ends.
  void shutdown() {
    if (stopped) return;
    while (!transfers.empty()) remove_transfer(*transfers.begin()->second);
    stopped = true;
  }

  void add_transfer(std::unique_ptr<transfer> tp) {
    auto& t = *tp;
    t.driver = this;
    t.started = t.last_byte = clock_type::now();
    t.easy = take_easy();
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
    if (t.easy) give_back_easy(t.easy);
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
    give_back_easy(t.easy);
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
    if (when >= next_scan) return;
    next_scan = when;
    if (runner) runner->due_changed();
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

// A start or a cancel, handed to the thread that runs the driver.
struct curl_driver::command {
  std::unique_ptr<impl::transfer> start;  // or else:
  transfer_id cancel = 0;
  clock_type::time_point asked;

  void run(impl& d) {
    if (start)
      d.add_transfer(std::move(start));
    else
      d.on_cancel_command(cancel, asked);
  }
};

// What start and cancel post to; it runs the driver on one thread, or strand.
class curl_driver::loop : public impl::pump {
 public:
  virtual void post(command c) = 0;
  // Removes every transfer; returns once that has run (or could not: a stopped io_context).
  virtual void stop() = 0;

 protected:
  impl d_;
};

namespace {

// epoll_wait's timeout for a driver due at `due`.
int wait_ms(clock_type::time_point due) {
  if (due == never) return -1;
  auto now = clock_type::now();
  if (due <= now) return 0;
  auto ms = std::chrono::ceil<milliseconds>(due - now);
  return static_cast<int>(std::min(ms, max_poll_wait).count());
}

}  // namespace

// A thread of its own (the default; embedding without the HTTP server, tests, benchmarks):
// it blocks in epoll_wait on the driver's set, where an eventfd stands for posted commands.
class curl_driver::own_loop final : public loop, public std::enable_shared_from_this<own_loop> {
 public:
  own_loop() : wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_;
    if (wake_ < 0 || ::epoll_ctl(d_.epfd, EPOLL_CTL_ADD, wake_, &ev) != 0) {
      if (wake_ >= 0) ::close(wake_);
      throw std::runtime_error("cannot set up the upstream I/O loop");
    }
    d_.runner = this;
  }
  ~own_loop() override { ::close(wake_); }

  void begin() {
    thread_ = std::thread([self = shared_from_this()] { self->run(); });
  }

  void post(command c) override {
    bool first = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      first = queue_.empty();
      queue_.push_back(std::move(c));
    }
    if (first) wake();  // a non-empty queue has a wake-up on its way already
  }

  void stop() override {
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

  // run() reads the driver's due time before every wait, on the same thread.
  void due_changed() override {}

 private:
  void wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_, &one, sizeof one);  // fails only if already due
  }

  void run() {
    epoll_event events[max_events];
    std::vector<command> commands;
    for (;;) {
      int n = ::epoll_wait(d_.epfd, events, max_events, wait_ms(d_.due()));
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
        for (auto& c : commands) c.run(d_);
        commands.clear();
        if (stop) break;
      }
      d_.on_ready(events, sockets);
      if (leaving_) break;
      if (d_.due() <= clock_type::now()) d_.on_due();
    }
    d_.shutdown();
  }

  int wake_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<command> queue_;  // guarded by mu_
  bool stop_ = false;           // guarded by mu_
  bool leaving_ = false;        // the loop's own thread only
};

// On someone else's io_context (the HTTP server's I/O threads): Asio's reactor watches the
// driver's epoll descriptor, which is readable while one of curl's sockets is ready; commands
// and the timer run on a strand. Its handlers hold it weakly: the loop owns the io_context,
// so a handler holding it strongly that a stopped io_context never runs (nor destroys) would
// keep both alive for ever, with every curl handle of the driver.
class curl_driver::asio_loop final : public loop, public std::enable_shared_from_this<asio_loop> {
 public:
  explicit asio_loop(std::shared_ptr<net::io_context> io)
      : io_(std::move(io)), strand_(net::make_strand(*io_)), watch_(*io_), timer_(*io_) {
    boost::system::error_code ec;
    watch_.assign(d_.epfd, ec);
    if (ec) throw std::runtime_error("cannot set up the upstream I/O loop");
    d_.runner = this;
  }
  ~asio_loop() override { watch_.release(); }  // the descriptor is the driver's to close

  void begin() {
    net::post(strand_, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->await_ready();
    });
  }

  void post(command c) override {
    net::post(strand_, [weak = weak_from_this(), c = std::move(c)]() mutable {
      auto self = weak.lock();
      if (!self || self->d_.stopped) return;
      c.run(self->d_);
      self->d_.after_action();
      self->arm();
    });
  }

  void stop() override {
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

  void due_changed() override { arm(); }

 private:
  void await_ready() {
    watch_.async_wait(
        net::posix::descriptor_base::wait_read,
        net::bind_executor(strand_, [weak = weak_from_this()](boost::system::error_code ec) {
          auto self = weak.lock();
          if (ec || !self || self->d_.stopped) return;
          self->d_.poll_ready();
          self->arm();
          self->await_ready();
        }));
  }

  // One timer for curl's timeout and the transfers' deadlines. curl moves its timeout on
  // almost every read: the timer is re-armed only when something falls due sooner, and when
  // it fires early the driver just looks again, which costs far less than a cancel per read.
  void arm() {
    auto due = d_.due();
    if (due >= timer_armed_) return;
    timer_armed_ = due;
    timer_.expires_at(due);
    timer_.async_wait(
        net::bind_executor(strand_, [weak = weak_from_this()](boost::system::error_code ec) {
          auto self = weak.lock();
          if (ec || !self || self->d_.stopped) return;
          self->timer_armed_ = never;
          self->d_.on_due();
          self->arm();
        }));
  }

  void end() {
    d_.shutdown();
    timer_.cancel();
    watch_.cancel();
  }

  std::shared_ptr<net::io_context> io_;  // outlives the handlers below
  net::strand<net::io_context::executor_type> strand_;
  net::posix::stream_descriptor watch_;
  net::steady_timer timer_;
  clock_type::time_point timer_armed_ = never;
};

curl_driver::curl_driver() {
  auto l = std::make_shared<own_loop>();
  l->begin();
  loop_ = std::move(l);
}

curl_driver::curl_driver(std::shared_ptr<net::io_context> io) {
  auto l = std::make_shared<asio_loop>(std::move(io));
  l->begin();
  loop_ = std::move(l);
}

curl_driver::~curl_driver() {
  loop_->stop();
}

transfer_id curl_driver::start(upstream_request request, transfer_callback on_event) {
  auto id = next_id_.fetch_add(1, std::memory_order_relaxed);
  auto t = std::make_unique<impl::transfer>(std::move(request), std::move(on_event));
  t->id = id;
  loop_->post(command{std::move(t), 0, {}});
  return id;
}

void curl_driver::cancel(transfer_id id) {
  loop_->post(command{nullptr, id, clock_type::now()});
}

}  // namespace streamgate
