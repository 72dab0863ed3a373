#include "providers/http/curl_multi.hpp"

#include "actors/error_code.hpp"
#include "telemetry/stats.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <stdexcept>

namespace streamgate {
namespace {

using clock_type = curl_multi::clock_type;
using std::chrono::milliseconds;

// Idle upstream connections kept for reuse (providers close theirs after a while anyway).
constexpr long idle_connections = 1024;

std::once_flag curl_init_once;

double seconds_since(clock_type::time_point t0, clock_type::time_point now = clock_type::now()) {
  return std::chrono::duration<double>(now - t0).count();
}

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

std::string timeout_message(std::string_view code, const upstream_timeouts& t) {
  if (code == error_code::upstream_first_byte_timeout)
    return "no response from the provider within " + std::to_string(t.first_byte.count()) + " ms";
  if (code == error_code::upstream_idle_timeout)
    return "the provider sent nothing for " + std::to_string(t.idle.count()) + " ms";
  return "the provider's response took longer than " + std::to_string(t.total.count()) + " ms";
}

}  // namespace

curl_multi::transfer::upstream_metrics::upstream_metrics(const std::string& provider)
    : ttfb(&stats::upstream().ttfb.with({provider})),
      chunk_gap(&stats::upstream().chunk_gap.with({provider})),
      cancel_latency(&stats::upstream().cancel_latency.with({provider})) {}

curl_multi::transfer::transfer(upstream_request r, transfer_callback cb)
    : request(std::move(r)),
      response(request.adapter, request.max_body_bytes, request.max_line_bytes, request.key),
      on_event(std::move(cb)),
      metrics(request.provider) {}

std::pair<clock_type::time_point, std::string_view> curl_multi::transfer::deadline() const {
  auto& t = request.timeouts;
  std::pair<clock_type::time_point, std::string_view> out{started + t.total,
                                                          error_code::upstream_request_timeout};
  if (sent && !first_byte && request_sent + t.first_byte < out.first)
    out = {request_sent + t.first_byte, error_code::upstream_first_byte_timeout};
  if (first_byte && last_byte + t.idle < out.first)
    out = {last_byte + t.idle, error_code::upstream_idle_timeout};
  return out;
}

curl_multi::curl_multi() {
  std::call_once(curl_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  multi_ = curl_multi_init();
  if (epfd_ < 0 || multi_ == nullptr) {
    if (epfd_ >= 0) ::close(epfd_);
    if (multi_ != nullptr) curl_multi_cleanup(multi_);
    throw std::runtime_error("cannot set up the upstream I/O loop");
  }
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &curl_multi::on_socket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &curl_multi::on_timer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  // curl's default cache is four connections per transfer running at the time: a lull
  // between bursts would close idle connections the next burst wants again. Keep them.
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, idle_connections);
}

curl_multi::~curl_multi() {
  for (auto* e : spare_easy_) curl_easy_cleanup(e);
  curl_multi_cleanup(multi_);  // closes cached connections through on_close: epfd first
  ::close(epfd_);
}

CURL* curl_multi::take_easy() {
  if (spare_easy_.empty()) return curl_easy_init();
  auto* e = spare_easy_.back();
  spare_easy_.pop_back();
  return e;
}

void curl_multi::give_back_easy(CURL* e) {
  if (spare_easy_.size() >= max_spare_easy) {
    curl_easy_cleanup(e);
    return;
  }
  curl_easy_reset(e);
  spare_easy_.push_back(e);
}

// curl's socket callback: watch `s` for what curl waits for, or stop watching it.
int curl_multi::on_socket(CURL*, curl_socket_t s, int what, void* data, void*) {
  auto& d = *static_cast<curl_multi*>(data);
  if (what == CURL_POLL_REMOVE) {
    d.unwatch(s);
    return 0;
  }
  auto [it, added] = d.sockets_.try_emplace(s, what);
  if (!added && it->second == what) return 0;
  it->second = what;
  epoll_event ev{};
  ev.data.fd = s;
  ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
  int rc = ::epoll_ctl(d.epfd_, added ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, s, &ev);
  if (rc != 0 && (errno == EEXIST || errno == ENOENT))  // out of step with the kernel's set
    rc = ::epoll_ctl(d.epfd_, errno == EEXIST ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev);
  if (rc != 0) {
    d.sockets_.erase(s);
    return -1;  // curl fails the transfer
  }
  return 0;
}

// curl closes a socket: stop watching it first (a socket number is soon reused).
int curl_multi::on_close(void* data, curl_socket_t s) {
  static_cast<curl_multi*>(data)->unwatch(s);
  return ::close(s);
}

void curl_multi::unwatch(curl_socket_t s) {
  if (sockets_.erase(s) == 0) return;
  epoll_event ev{};
  ::epoll_ctl(epfd_, EPOLL_CTL_DEL, s, &ev);
}

void curl_multi::on_ready(const epoll_event* events, int n) {
  for (int i = 0; i < n && !stopped_; ++i) {
    // Closed since epoll_wait reported it (its transfer ended or was cancelled earlier in
    // this round): curl no longer knows the socket.
    if (sockets_.count(events[i].data.fd) == 0) continue;
    auto e = events[i].events;
    int flags = ((e & EPOLLIN) ? CURL_CSELECT_IN : 0) | ((e & EPOLLOUT) ? CURL_CSELECT_OUT : 0);
    // An error or hang-up with nothing to read or write: curl ends the transfer, which
    // stops the socket reporting it again (the set is level-triggered).
    if (flags == 0) flags = CURL_CSELECT_ERR;
    int running = 0;
    curl_multi_socket_action(multi_, events[i].data.fd, flags, &running);
  }
  after_action();
}

void curl_multi::poll_ready() {
  epoll_event events[max_events];
  int n = ::epoll_wait(epfd_, events, max_events, 0);
  on_ready(events, std::max(n, 0));
}

// curl's timer callback: call back with CURL_SOCKET_TIMEOUT after `ms` (-1: no timer).
// curl must not be called from inside its own callback, so even 0 waits for the pump.
int curl_multi::on_timer(CURLM*, long ms, void* data) {
  auto& d = *static_cast<curl_multi*>(data);
  auto due = ms < 0 ? never : clock_type::now() + milliseconds{ms};
  bool sooner = due < d.curl_due_;
  d.curl_due_ = due;
  if (sooner && d.runner_) d.runner_->due_changed();
  return 0;
}

clock_type::time_point curl_multi::due() const {
  return std::min(curl_due_, transfers_.empty() ? never : next_scan_);
}

void curl_multi::on_due() {
  if (stopped_) return;
  if (curl_due_ <= clock_type::now()) {
    curl_due_ = never;
    int running = 0;
    curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
  }
  after_action();
}

void curl_multi::after_action() {
  if (stopped_) return;
  collect_finished();
  auto now = clock_type::now();
  if (now >= next_scan_) next_scan_ = expire_deadlines(now);
}

void curl_multi::shutdown() {
  if (stopped_) return;
  while (!transfers_.empty()) remove_transfer(*transfers_.begin()->second);
  stopped_ = true;
}

void curl_multi::add_transfer(std::unique_ptr<transfer> tp) {
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
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.request.body.size()));
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(
      e, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(std::max<milliseconds::rep>(1, t.request.timeouts.connect.count())));
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error);
  if (!t.request.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, t.request.ca_file.c_str());
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &curl_multi::on_body_bytes);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &curl_multi::on_header_line);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, &curl_multi::on_request_sending);
  curl_easy_setopt(e, CURLOPT_PREREQDATA, &t);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &curl_multi::on_close);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
  if (curl_multi_add_handle(multi_, e) != CURLM_OK) {
    fail_unstarted(t, "curl_multi_add_handle failed");
    return;
  }
  auto deadline = t.deadline().first;
  transfers_.emplace(t.id, std::move(tp));
  deadline_at_most(deadline);
}

void curl_multi::fail_unstarted(transfer& t, const char* why) {
  if (t.headers) curl_slist_free_all(t.headers);
  if (t.easy) give_back_easy(t.easy);
  t.on_event(stream_event::make_error(std::string{error_code::internal_error}, why));
}

void curl_multi::cancel_transfer(transfer_id id, clock_type::time_point asked) {
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return;  // ended already
  auto* cancel_latency = it->second->metrics.cancel_latency;
  remove_transfer(*it->second);
  cancel_latency->observe(seconds_since(asked));
}

// Removing an unfinished transfer makes curl close its connection (it cannot be reused
// mid-response): this is where a cancel reaches the upstream socket.
void curl_multi::remove_transfer(transfer& t) {
  curl_multi_remove_handle(multi_, t.easy);
  give_back_easy(t.easy);
  curl_slist_free_all(t.headers);
  transfers_.erase(t.id);  // destroys t
}

void curl_multi::deliver(transfer& t, std::vector<stream_event>& events) {
  for (auto& ev : events) t.on_event(std::move(ev));
  events.clear();
}

void curl_multi::collect_finished() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
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

void curl_multi::deadline_at_most(clock_type::time_point when) {
  if (when >= next_scan_) return;
  next_scan_ = when;
  if (runner_) runner_->due_changed();
}

// Ends transfers past one of their deadlines; returns when the next one falls due.
clock_type::time_point curl_multi::expire_deadlines(clock_type::time_point now) {
  auto next = now + max_poll_wait;
  std::vector<std::pair<transfer*, std::string_view>> expired;
  for (auto& [id, t] : transfers_) {
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

void curl_multi::on_first_byte(transfer& t, clock_type::time_point now) {
  t.first_byte = true;
  t.metrics.ttfb->observe(seconds_since(t.sent ? t.request_sent : t.started, now));
  t.last_byte = now;
  t.driver->deadline_at_most(t.deadline().first);  // the idle deadline may be the sooner
}

int curl_multi::on_request_sending(void* data, char*, char*, int, int) {
  auto& t = *static_cast<transfer*>(data);
  t.sent = true;
  t.request_sent = clock_type::now();
  t.driver->deadline_at_most(t.deadline().first);
  return CURL_PREREQFUNC_OK;
}

std::size_t curl_multi::on_header_line(char* ptr, std::size_t size, std::size_t n, void* data) {
  auto& t = *static_cast<transfer*>(data);
  auto now = clock_type::now();
  if (!t.first_byte) on_first_byte(t, now);
  t.last_byte = now;
  t.response.on_header(std::string_view{ptr, size * n});
  return size * n;
}

std::size_t curl_multi::on_body_bytes(char* ptr, std::size_t size, std::size_t n, void* data) {
  auto& t = *static_cast<transfer*>(data);
  auto now = clock_type::now();
  if (t.got_body) t.metrics.chunk_gap->observe(seconds_since(t.last_byte, now));
  t.got_body = true;
  t.last_byte = now;
  auto& events = t.driver->body_events_;  // empty between calls: deliver() clears it
  bool go_on = t.response.on_body(std::string_view{ptr, size * n}, events);
  t.driver->deliver(t, events);
  return go_on ? size * n : 0;  // 0 aborts the transfer (CURLE_WRITE_ERROR)
}

}  // namespace streamgate
