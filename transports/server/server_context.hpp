#pragma once

#include "access/access_control.hpp"
#include "actors/admin_service.hpp"
#include "actors/session_service.hpp"
#include "transports/server/http_options.hpp"
#include "transports/server/post_gate.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace streamgate {

// Who is on one client connection, as access control sees it: the address it came from and
// its place in that address's count, and the key it showed (anonymous without keys) and its
// place in that key's. Handed from the HTTP connection to the WebSocket that takes it over.
struct client_identity {
  client_address from;
  access_ticket address_ticket;
  const key_account* key = nullptr;
  access_ticket key_ticket;
};

// What every connection of one server shares. Owned by http_server; outlives connections
// (they hold it by shared_ptr).
struct server_context {
  session_service& service;
  admin_service* admin = nullptr;  // set when the operator enabled /admin
  http_options options;
  access_control access;  // every session operation of a client goes through it
  std::function<std::string()> metrics_text;
  // The server's I/O loops (http_server): a session started from loop i asks for its
  // upstream transfer on loop i (chat_request::io_loop).
  // Each is an io_context as its execution_context (the connections' executors say that).
  std::vector<const void*> loops;
  int loop_of(const void* execution_context) const {
    for (std::size_t i = 0; i < loops.size(); ++i)
      if (loops[i] == execution_context) return static_cast<int>(i);
    return -1;
  }
  // What POST /admin/connections/drop cuts: on the admin listener, the public one's clients
  // (http_server::drop_clients_of); empty: this server's own.
  std::function<std::size_t()> drop_clients;
  std::atomic<std::int64_t> connections{0};
  std::atomic<std::int64_t> streams{0};   // connections with a response still streaming
  std::atomic<std::int64_t> refusing{0};  // over-limit connections being told so
  std::atomic<bool> stopping{false};
  // Closed when the server stops: sessions then no longer post into its io_context.
  std::shared_ptr<post_gate> gate = std::make_shared<post_gate>();
  // Clients dropped by the server, by reason (operators and tests see who was cut and why).
  std::atomic<std::uint64_t> slow_consumer_drops{0};
  std::atomic<std::uint64_t> ws_ping_timeouts{0};
  std::atomic<std::uint64_t> write_timeouts{0};
  enum class drop_reason { slow_consumer, ping_timeout, write_timeout };
  // Counts a client the server cut on its own: in this server's counters above and in
  // streamgate_client_dropped_total{transport, reason}.
  void count_drop(const char* transport, drop_reason why);
  // Whether a client with `unsent` bytes queued (rendered, not yet taken by its socket) is
  // over max_pending_bytes. Every streaming connection asks here, so this also keeps the
  // most any one client has held: the evidence that the budget holds (http_server).
  bool over_budget(std::size_t unsent) {
    auto most = most_unsent.load(std::memory_order_relaxed);
    while (unsent > most &&
           !most_unsent.compare_exchange_weak(most, unsent, std::memory_order_relaxed)) {
    }
    return unsent > options.max_pending_bytes;
  }
  std::atomic<std::size_t> most_unsent{0};
  // The reason as logs and metrics spell it.
  static const char* name(drop_reason why);

  // Connections the server may end on its own, and how:
  // - `drop`: an operator cuts streaming connections (POST /admin/connections/drop), as a
  //   network failure would; how tests simulate one from the server side;
  // - `going_away`: the server stops; a WebSocket client hears close 1001 instead of a
  //   dropped connection.
  // WebSockets register while they are open; streaming HTTP connections while they stream,
  // when admin is enabled (they have nothing to say at a stop).
  enum class farewell { drop, going_away };
  void add_closable(const void* key, std::function<void(farewell)> close) {
    std::lock_guard<std::mutex> g{closable_mutex_};
    closable_[key] = std::move(close);
  }
  void remove_closable(const void* key) {
    std::lock_guard<std::mutex> g{closable_mutex_};
    closable_.erase(key);
  }
  std::size_t close_all(farewell how) {
    std::map<const void*, std::function<void(farewell)>> all;
    {
      std::lock_guard<std::mutex> g{closable_mutex_};
      all.swap(closable_);
    }
    for (auto& [key, close] : all) close(how);
    return all.size();
  }
  // WebSocket connections alive (not counting refused ones): the server's stop waits, briefly,
  // for their close handshakes.
  void websocket_opened() { websockets_.fetch_add(1, std::memory_order_relaxed); }
  void websocket_closed() {
    if (websockets_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    { std::lock_guard<std::mutex> g{websockets_mutex_}; }  // a waiter is waiting, or will see 0
    websockets_gone_.notify_all();
  }
  bool wait_for_websockets(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lk{websockets_mutex_};
    return websockets_gone_.wait_for(lk, limit, [&] { return websockets_.load() == 0; });
  }

  server_context(session_service& s, http_options o)
      : service(s), options(std::move(o)), access(options.access, s) {}

 private:
  std::atomic<std::int64_t> websockets_{0};
  std::mutex websockets_mutex_;
  std::condition_variable websockets_gone_;
  std::mutex closable_mutex_;
  std::map<const void*, std::function<void(farewell)>> closable_;
};

}  // namespace streamgate
