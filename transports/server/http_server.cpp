#include "transports/server/http_server.hpp"

#include "actors/error_code.hpp"
#include "telemetry/log.hpp"
#include "telemetry/stats.hpp"
#include "transports/http/http_connection.hpp"
#include "transports/server/accept_backoff.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

namespace streamgate {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

std::string refusal(const char* status, std::string_view body) {
  return std::string{"HTTP/1.1 "} + status +
         "\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string{body};
}

// The answer to a connection over the limit, or taken at the descriptor limit.
const std::string& refusal_bytes() {
  static const std::string bytes = refusal(
      "503 Service Unavailable",
      R"({"error":{"message":"the server has reached its connection limit","type":"server_error","code":"too_many_connections"}})");
  return bytes;
}

// The answer to a connection from an address that holds per_client.max_connections.
const std::string& client_refusal_bytes() {
  static const std::string bytes = refusal(
      "429 Too Many Requests",
      R"({"error":{"message":"this address holds as many connections as it may","type":"rate_limit_error","code":"client_connection_limit"}})");
  return bytes;
}

// The peer's address, read with getpeername: a peer already gone gives an empty address
// (counted nowhere), without an error_code whose category a sanitizer would have to check.
client_address address_of(tcp::socket& socket) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(socket.native_handle(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    ::inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
    return {text, (ntohl(in.sin_addr.s_addr) >> 24) == 127};
  }
  if (ss.ss_family == AF_INET6) {
    auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
    if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
      in_addr v4{};
      std::memcpy(&v4, in6.sin6_addr.s6_addr + 12, sizeof v4);
      ::inet_ntop(AF_INET, &v4, text, sizeof text);
      return {text, (ntohl(v4.s_addr) >> 24) == 127};
    }
    ::inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
    return {text, IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr) != 0};
  }
  return {};
}

// A descriptor held in reserve: at the limit, closing it makes room to accept one waiting
// client and tell it 503, instead of leaving the whole listen queue to time out.
int open_spare_descriptor() {
  return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

bool out_of_descriptors(const boost::system::error_code& ec) {
  return ec == boost::asio::error::no_descriptors ||
         (ec.category() == boost::system::system_category() && ec.value() == ENFILE);
}

}  // namespace

std::vector<std::shared_ptr<net::io_context>> make_io_loops(unsigned n) {
  std::vector<std::shared_ptr<net::io_context>> loops(std::max(1u, n));
  for (auto& l : loops) l = std::make_shared<net::io_context>(1);
  return loops;
}

struct http_server::impl {
  loops io;
  net::io_context& ioc;  // the first loop's: it runs the accept chain
  std::shared_ptr<server_context> ctx;
  std::size_t next_loop = 0;  // the accept strand's
  // The accept chain (acceptor, retry timer, backoff, spare descriptor) runs on one strand.
  net::strand<net::io_context::executor_type> accept_strand{ioc.get_executor()};
  tcp::acceptor acceptor{accept_strand};
  net::steady_timer accept_retry{accept_strand};
  accept_backoff backoff;
  int spare_fd = -1;
  std::vector<std::thread> threads;
  std::uint16_t port = 0;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::uint64_t> gauges;  // scrape-time gauges reading `ctx`

  impl(session_service& s, http_options o, admin_service* admin, loops shared)
      : io(shared.empty() ? make_io_loops(o.threads) : std::move(shared)),
        ioc(*io.front()),
        ctx(std::make_shared<server_context>(s, std::move(o))) {
    for (auto& l : io) ctx->loops.push_back(static_cast<net::execution_context*>(l.get()));
    if (ctx->options.admin) ctx->admin = admin;
    ctx->metrics_text = [] { return metrics::registry::global().expose(); };
  }
  ~impl() {
    if (spare_fd >= 0) ::close(spare_fd);
  }

  // A connection lives on one loop: its reads, its writes and (with the curl drivers on the
  // loops) its upstream transfers run on that loop's thread, without a hand-over per token.
  // Round-robin, like the kernel's SO_REUSEPORT spread, without a listening socket per loop.
  net::io_context& take_loop() { return *io[next_loop++ % io.size()]; }

  void accept() {
    acceptor.async_accept(net::make_strand(take_loop()),
                          [this](boost::system::error_code ec, tcp::socket socket) {
                            if (!ec) {
                              backoff.succeeded();
                              admit(std::move(socket));
                            } else if (ec == net::error::operation_aborted || !acceptor.is_open()) {
                              return;
                            } else if (ec != net::error::connection_aborted) {
                              // Out of descriptors or buffers: retrying at once fails the same way,
                              // at 100 % of a core. Wait, and meanwhile answer whom the spare
                              // descriptor lets us.
                              failed_accept(ec);
                              return;
                            }
                            accept();
                          });
  }

  void admit(tcp::socket socket) {
    boost::system::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    client_identity who;
    who.from = address_of(socket);
    if (static_cast<std::size_t>(ctx->connections.load()) < ctx->options.max_connections) {
      who.address_ticket = ctx->access.open_connection(who.from);
      if (!who.address_ticket) {
        log::warn("limit_refusal", {{"limit", "client_connections"}});
        refuse(std::move(socket), client_refusal_bytes());
        return;
      }
      std::make_shared<http_connection>(std::move(socket), ctx, std::move(who))->run();
    } else if (ctx->refusing.load() < max_refusing) {
      // Read the request to refuse it in its own terms (503, or WebSocket 1013).
      std::make_shared<http_connection>(std::move(socket), ctx, std::move(who), true)->run();
    } else {
      stats::limits().rejected.with({"max_connections"}).inc();
      log::warn("limit_refusal", {{"limit", "max_connections"}});
      refuse(std::move(socket), refusal_bytes());
    }
  }

  void failed_accept(const boost::system::error_code& ec) {
    stats::http().accept_failures.with({}).inc();
    auto delay = backoff.failed(accept_backoff::clock::now());
    std::uint64_t refused = out_of_descriptors(ec) ? refuse_with_spare() : 0;
    if (auto failures = backoff.to_log())
      log::warn("accept_failed", {{"error", ec.message()},
                                  {"failures", *failures},
                                  {"refused", refused},
                                  {"retry_ms", delay.count()}});
    accept_retry.expires_after(delay);
    accept_retry.async_wait([this](boost::system::error_code wait_ec) {
      if (!wait_ec && acceptor.is_open()) accept();
    });
  }

  // At most a listen queue's burst per retry: the rest waits for the next one.
  static constexpr int max_spare_refusals = 64;

  // Gives the spare descriptor up to accept waiting clients one at a time and send each the
  // 503 at once (a few hundred bytes: the socket's buffer takes them without waiting).
  std::uint64_t refuse_with_spare() {
    if (spare_fd < 0) return 0;
    ::close(spare_fd);
    std::uint64_t refused = 0;
    for (; refused < max_spare_refusals; ++refused) {
      int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) break;
      auto& bytes = refusal_bytes();
      [[maybe_unused]] auto sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      ::shutdown(fd, SHUT_WR);
      ::close(fd);
    }
    if (refused > 0) stats::limits().rejected.with({"file_descriptors"}).inc(refused);
    spare_fd = open_spare_descriptor();
    return refused;
  }

  // Over-limit connections read at once to refuse them politely; past this many, a flood
  // gets the blunt 503 below without a read.
  static constexpr std::int64_t max_refusing = 64;

  // Over the connection limit: a clear 503 instead of slowing everybody down.
  void refuse(tcp::socket socket, const std::string& bytes) {
    auto sock = std::make_shared<tcp::socket>(std::move(socket));
    net::async_write(*sock, net::buffer(bytes), [sock](boost::system::error_code, std::size_t) {
      boost::system::error_code ignored;
      sock->shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

  // Lowers max_connections to what the descriptor limit allows, so that it, and not
  // accept(), is what a client over the limit meets.
  void fit_connections_to_descriptors() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return;
    auto configured = ctx->options.max_connections;
    auto fitted = connection_limit_for(configured, lim.rlim_cur);
    if (fitted == configured) return;
    ctx->options.max_connections = fitted;
    log::warn(
        "max_connections_lowered",
        {{"configured", configured}, {"effective", fitted}, {"open_files_limit", lim.rlim_cur}});
  }
};

http_server::http_server(session_service& service, http_options options, admin_service* admin,
                         loops io)
    : impl_(std::make_unique<impl>(service, std::move(options), admin, std::move(io))) {}

http_server::~http_server() {
  stop();
}

void http_server::start() {
  auto& d = *impl_;
  boost::system::error_code ec;
  auto addr = net::ip::make_address(d.ctx->options.host, ec);
  if (ec) throw std::runtime_error("invalid listen address '" + d.ctx->options.host + "'");
  tcp::endpoint ep{addr, d.ctx->options.port};
  d.acceptor.open(ep.protocol(), ec);
  if (!ec) d.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) d.acceptor.bind(ep, ec);
  if (!ec) d.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + d.ctx->options.host + ":" +
                             std::to_string(d.ctx->options.port) + ": " + ec.message());
  d.port = d.acceptor.local_endpoint().port();
  // Spare-descriptor refusals accept without waiting; asio's own accepts do not mind.
  d.acceptor.native_non_blocking(true, ec);
  d.spare_fd = open_spare_descriptor();
  d.fit_connections_to_descriptors();
  auto& m = metrics::registry::global();
  // The operator's listener is not what these count.
  if (d.ctx->options.serves != http_options::role::admin)
    d.gauges = {
        m.add_callback_gauge("streamgate_http_connections_open", "Open client connections",
                             [c = d.ctx] { return static_cast<double>(c->connections.load()); }),
        m.add_callback_gauge("streamgate_http_streams_active",
                             "Client connections with a streaming response (SSE, long poll)",
                             [c = d.ctx] { return static_cast<double>(c->streams.load()); }),
    };
  for (auto& l : d.io) d.work.push_back(net::make_work_guard(*l));
  d.accept();
  for (auto& l : d.io) d.threads.emplace_back([l] { l->run(); });
}

std::uint16_t http_server::port() const {
  return impl_->port;
}

void http_server::set_metrics_text(std::function<std::string()> fn) {
  impl_->ctx->metrics_text = std::move(fn);
}

void http_server::drop_clients_of(http_server& clients) {
  impl_->ctx->drop_clients = [c = clients.impl_->ctx] {
    return c->close_all(server_context::farewell::drop);
  };
}

void http_server::stop_accepting() {
  auto& d = *impl_;
  d.ctx->stopping = true;
  net::post(d.accept_strand, [&d] {
    boost::system::error_code ec;
    d.acceptor.close(ec);
    d.accept_retry.cancel();
  });
}

std::int64_t http_server::open_connections() const {
  return impl_->ctx->connections.load();
}

std::int64_t http_server::streaming_connections() const {
  return impl_->ctx->streams.load();
}

std::uint64_t http_server::slow_consumer_drops() const {
  return impl_->ctx->slow_consumer_drops.load();
}

std::uint64_t http_server::ws_ping_timeouts() const {
  return impl_->ctx->ws_ping_timeouts.load();
}

std::size_t http_server::most_unsent_bytes() const {
  return impl_->ctx->most_unsent.load();
}

std::uint64_t http_server::write_timeouts() const {
  return impl_->ctx->write_timeouts.load();
}

void http_server::stop() {
  auto& d = *impl_;
  if (d.threads.empty()) return;
  for (auto id : d.gauges) metrics::registry::global().remove_callback_gauge(id);
  d.gauges.clear();
  stop_accepting();
  // WebSocket clients hear close 1001 (going away), not a dropped connection, and get a
  // moment to answer it; a client that does not is cut when the I/O threads stop.
  d.ctx->close_all(server_context::farewell::going_away);
  d.ctx->wait_for_websockets(std::chrono::seconds(1));
  d.work.clear();
  for (auto& l : d.io) l->stop();
  for (auto& t : d.threads) t.join();
  d.threads.clear();
  // Sessions may outlive this server: from now on their events go nowhere.
  d.ctx->gate->close();
}

}  // namespace streamgate
