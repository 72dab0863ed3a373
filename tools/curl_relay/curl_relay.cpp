#include "tools/curl_relay/curl_relay.hpp"

#include <curl/curl.h>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace streamgate::relay {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

using clock = std::chrono::steady_clock;

// What an epoll event is for: the kind in the high half of its 64-bit tag, the fd below.
enum class kind : std::uint64_t { listener = 1, wake = 2, client = 3, upstream = 4 };
std::uint64_t tag(kind k, int fd) {
  return (static_cast<std::uint64_t>(k) << 32) | static_cast<std::uint32_t>(fd);
}

constexpr std::size_t max_request_bytes = 1u << 20;

struct client {
  client() { next_request(); }
  // Ready for the connection's next request (a Beast parser reads one message).
  void next_request() {
    parser.emplace();
    parser->eager(true);  // the body with the header, in one put
    parser->body_limit(max_request_bytes);
    head_sent = false;
  }
  void* owner = nullptr;  // the relay
  int fd = -1;
  std::optional<http::request_parser<http::string_body>> parser;
  bool keep_alive = false;  // the request allows the connection's reuse (HTTP/1.1 keep-alive)
  std::string in;           // request bytes read, not yet taken by the parser
  std::string body;         // the request body, alive while curl sends it
  std::string pending;      // response bytes the socket has not taken yet
  std::string frame;        // reused per body piece
  CURL* easy = nullptr;
  bool head_sent = false;
  bool broken = false;   // a send failed, or too much is queued: abort the transfer
  bool closing = false;  // close once `pending` is flushed
};

// What the bytes read so far make.
struct parsed_request {
  bool complete = false;  // the whole request: its body is in the client's `body`
  std::string error;      // not a request we relay: the text of the 400
  std::string target;
};

// Feeds the bytes read so far to the client's request parser (Beast's, as everywhere else in
// the project).
parsed_request parse_request(client& c) {
  parsed_request r;
  beast::error_code ec;
  while (!c.parser->is_done() && !c.in.empty()) {
    auto used = c.parser->put(boost::asio::buffer(c.in), ec);
    c.in.erase(0, used);
    if (ec == http::error::need_more || (!ec && used == 0)) return r;
    if (ec) {
      r.error = "bad request: " + ec.message();
      return r;
    }
  }
  if (!c.parser->is_done()) return r;
  auto& req = c.parser->get();
  if (req.method() != http::verb::post) {
    r.error = "expected POST TARGET HTTP/1.1";
    return r;
  }
  r.target = std::string{req.target()};
  c.keep_alive = req.keep_alive();
  c.body = std::move(req.body());
  r.complete = true;
  return r;
}

}  // namespace

struct curl_relay::impl {
  relay_options opts;
  int listen_fd = -1;
  int epoll_fd = -1;
  int wake_fd = -1;
  std::uint16_t bound_port = 0;
  CURLM* multi = nullptr;
  curl_slist* headers = nullptr;
  clock::time_point deadline = clock::time_point::max();  // curl's timer
  std::unordered_map<int, std::unique_ptr<client>> clients;
  std::vector<CURL*> spare;  // easy handles for reuse
  std::thread thread;
  std::atomic<bool> stopping{false};

  explicit impl(relay_options o) : opts{std::move(o)} {}

  ~impl() {
    for (auto& [fd, c] : clients) {
      if (c->easy) {
        curl_multi_remove_handle(multi, c->easy);
        curl_easy_cleanup(c->easy);
      }
      ::close(fd);
    }
    for (auto* e : spare) curl_easy_cleanup(e);
    if (multi) curl_multi_cleanup(multi);
    if (headers) curl_slist_free_all(headers);
    for (int fd : {listen_fd, epoll_fd, wake_fd})
      if (fd >= 0) ::close(fd);
  }

  void watch(int op, int fd, std::uint32_t events, std::uint64_t t) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = t;
    epoll_ctl(epoll_fd, op, fd, &ev);
  }

  void open() {
    listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(opts.port);
    if (inet_pton(AF_INET, opts.host.c_str(), &addr.sin_addr) != 1)
      throw std::runtime_error("curl-relay: not an IPv4 address: " + opts.host);
    if (::bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd, 4096) != 0)
      throw std::runtime_error(std::string{"curl-relay: cannot listen: "} + std::strerror(errno));
    socklen_t len = sizeof addr;
    getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    bound_port = ntohs(addr.sin_port);

    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    watch(EPOLL_CTL_ADD, listen_fd, EPOLLIN, tag(kind::listener, listen_fd));
    watch(EPOLL_CTL_ADD, wake_fd, EPOLLIN, tag(kind::wake, wake_fd));

    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &impl::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &impl::on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 10000L);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
  }

  // curl: watch `s` for what it waits on. Assigned sockets are in the set already.
  static int on_socket(CURL*, curl_socket_t s, int what, void* self_p, void* assigned) {
    auto* self = static_cast<impl*>(self_p);
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(self->epoll_fd, EPOLL_CTL_DEL, s, nullptr);
      return 0;
    }
    std::uint32_t events =
        ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    self->watch(assigned ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, events, tag(kind::upstream, s));
    if (!assigned) curl_multi_assign(self->multi, s, self);
    return 0;
  }

  static int on_timer(CURLM*, long timeout_ms, void* self_p) {
    auto* self = static_cast<impl*>(self_p);
    self->deadline = timeout_ms < 0 ? clock::time_point::max()
                                    : clock::now() + std::chrono::milliseconds(timeout_ms);
    return 0;
  }

  // curl: a piece of the upstream's body, written to the client as one HTTP chunk.
  static size_t on_body(char* data, size_t size, size_t n, void* client_p) {
    auto* c = static_cast<client*>(client_p);
    auto* self = static_cast<impl*>(c->owner);
    auto len = size * n;
    c->frame.clear();
    if (!c->head_sent) {
      long code = 0;
      curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
      c->frame = "HTTP/1.1 " + std::to_string(code) +
                 " \r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n" +
                 (c->keep_alive ? "\r\n" : "Connection: close\r\n\r\n");
      c->head_sent = true;
    }
    char hex[16];
    auto hex_end = std::to_chars(hex, hex + sizeof hex, len, 16).ptr;
    c->frame.append(hex, hex_end).append("\r\n").append(data, len).append("\r\n");
    self->send_to(*c, c->frame);
    return c->broken ? 0 : len;  // 0 aborts the transfer
  }

  // Sends now what the socket takes; queues the rest and waits for the socket to drain.
  void send_to(client& c, std::string_view bytes) {
    if (c.broken) return;
    if (!c.pending.empty()) {
      c.pending.append(bytes);
      if (c.pending.size() > opts.max_pending_bytes) c.broken = true;
      return;
    }
    auto n = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(bytes.size())) return;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      c.broken = true;
      return;
    }
    c.pending.assign(bytes.substr(n < 0 ? 0 : static_cast<std::size_t>(n)));
    watch(EPOLL_CTL_MOD, c.fd, EPOLLIN | EPOLLOUT, tag(kind::client, c.fd));
  }

  void run() {
    std::vector<epoll_event> events(256);
    while (!stopping.load()) {
      int wait_ms = -1;
      if (deadline != clock::time_point::max()) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
        wait_ms = static_cast<int>(std::max<std::int64_t>(0, left.count()));
      }
      int n = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), wait_ms);
      int running = 0;
      for (int i = 0; i < n; ++i) {
        auto k = static_cast<kind>(events[i].data.u64 >> 32);
        int fd = static_cast<int>(events[i].data.u64 & 0xffffffffu);
        auto ev = events[i].events;
        if (k == kind::upstream) {
          int flags = ((ev & (EPOLLIN | EPOLLHUP)) ? CURL_CSELECT_IN : 0) |
                      ((ev & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                      ((ev & EPOLLERR) ? CURL_CSELECT_ERR : 0);
          curl_multi_socket_action(multi, fd, flags, &running);
        } else if (k == kind::listener) {
          accept_all();
        } else if (k == kind::client) {
          on_client(fd, ev);
        } else {
          std::uint64_t count;
          [[maybe_unused]] auto r = ::read(wake_fd, &count, sizeof count);
        }
        finish_transfers();
      }
      if (clock::now() >= deadline) {
        deadline = clock::time_point::max();
        curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
        finish_transfers();
      }
    }
  }

  void accept_all() {
    for (;;) {
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<client>();
      c->owner = this;
      c->fd = fd;
      watch(EPOLL_CTL_ADD, fd, EPOLLIN, tag(kind::client, fd));
      clients.emplace(fd, std::move(c));
    }
  }

  void on_client(int fd, std::uint32_t ev) {
    auto it = clients.find(fd);
    if (it == clients.end()) return;
    client& c = *it->second;
    if ((ev & EPOLLOUT) && !flush(c)) return;
    if (!(ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    char buf[16384];
    for (;;) {
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        // Bytes during a response are the client's next request (pipelined): kept for then.
        if (!c.closing) c.in.append(buf, static_cast<std::size_t>(n));
        // One request, waiting whole behind a response, is the most a client may send ahead.
        if (c.in.size() > 2 * max_request_bytes) return drop(c);
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) return drop(c);
      break;
    }
    serve(c);
  }

  // Starts the request the bytes read so far make, if they make one and none is running.
  void serve(client& c) {
    if (c.easy || c.closing) return;
    auto req = parse_request(c);
    if (!req.error.empty()) {
      send_to(c,
              "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
              "Content-Length: " +
                  std::to_string(req.error.size()) + "\r\n\r\n" + req.error);
      return finish(c);
    }
    if (req.complete) start(c, req.target);
  }

  void start(client& c, const std::string& target) {
    CURL* e = nullptr;
    if (spare.empty()) {
      e = curl_easy_init();
    } else {
      e = spare.back();
      spare.pop_back();
      curl_easy_reset(e);
    }
    c.easy = e;
    auto url = opts.upstream + target;
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());  // curl copies it
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, c.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(c.body.size()));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &impl::on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(e, CURLOPT_PRIVATE, &c);
    curl_multi_add_handle(multi, e);
  }

  // Ends finished transfers: the closing chunk, or a 502 when nothing came.
  void finish_transfers() {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      client* c = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &c);
      bool ok = m->data.result == CURLE_OK;
      release_easy(*c);
      if (!c->head_sent) {
        send_to(*c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      } else if (ok) {
        send_to(*c, "0\r\n\r\n");
        if (c->keep_alive && !c->broken) {
          // The connection stays for the client's next request, as nginx's would.
          c->next_request();
          serve(*c);
          continue;
        }
      } else {
        c->broken = true;  // a cut-off body: the client must not take it as complete
      }
      finish(*c);
    }
  }

  void release_easy(client& c) {
    if (!c.easy) return;
    curl_multi_remove_handle(multi, c.easy);
    spare.push_back(c.easy);
    c.easy = nullptr;
  }

  // False when the client is gone.
  bool flush(client& c) {
    if (!c.pending.empty() && !c.broken) {
      auto n = ::send(c.fd, c.pending.data(), c.pending.size(), MSG_NOSIGNAL);
      if (n > 0) c.pending.erase(0, static_cast<std::size_t>(n));
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) c.broken = true;
    }
    if (c.closing && (c.pending.empty() || c.broken)) {
      drop(c);
      return false;
    }
    if (c.pending.empty()) watch(EPOLL_CTL_MOD, c.fd, EPOLLIN, tag(kind::client, c.fd));
    return true;
  }

  void finish(client& c) {
    c.closing = true;
    flush(c);
  }

  void drop(client& c) {
    release_easy(c);
    int fd = c.fd;
    ::close(fd);
    clients.erase(fd);
  }
};

curl_relay::curl_relay(relay_options options) : impl_{std::make_unique<impl>(std::move(options))} {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

curl_relay::~curl_relay() {
  stop();
}

void curl_relay::start() {
  impl_->open();
  impl_->thread = std::thread{[this] { impl_->run(); }};
}

std::uint16_t curl_relay::port() const {
  return impl_->bound_port;
}

void curl_relay::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->stopping = true;
  std::uint64_t one = 1;
  [[maybe_unused]] auto r = ::write(impl_->wake_fd, &one, sizeof one);
  impl_->thread.join();
}

}  // namespace streamgate::relay
