#pragma once

#include "access/access_config.hpp"
#include "actors/session_service.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace streamgate {

class key_account;  // one configured key's limits and counters (access_control.cpp)
class access_ticket;

// Where a client connects from, as the per-client limits see it.
struct client_address {
  std::string ip;
  bool loopback = false;
};

// The gate between the transports and the engine (Envoy's filter idea, as one object): who a
// caller is (gateway keys), what that key may still do (its rates, streams and models), whose
// session an id is, and how much one client address may take. Transports call the engine's
// session operations through here only. Thread-safe; keys' counters are under a mutex each,
// tokens are counted with atomics on the logging thread.
class access_control {
 public:
  access_control(access_config config, session_service& engine);
  ~access_control();
  access_control(const access_control&) = delete;
  access_control& operator=(const access_control&) = delete;

  const access_config& config() const;

  // The key an Authorization header ("Bearer KEY") or a bare key names; null when it names
  // none. Without keys to require, every caller is the one anonymous account.
  const key_account* authenticate(std::string_view credential) const;
  static std::string_view bearer_token(std::string_view authorization);
  bool is_admin(const key_account& who) const;
  const std::string& name_of(const key_account& who) const;

  // A connection's place in the per-client count while the ticket lives; an empty ticket:
  // that address already holds per_client.max_connections.
  access_ticket open_connection(const client_address& from);
  // The same for a key's max_connections, once a connection has shown its key.
  access_ticket bind_connection(const key_account& who);

  // The engine's session operations, as `who` may use them. A session belongs to the key
  // that started it: another key's id is not found (404 session_not_found, no oracle).
  start_outcome start(const key_account& who, const client_address& from, chat_request req,
                      start_options opts);
  bool attach(const key_account& who, const std::string& session_id, std::uint64_t after_seq,
              sink_ptr sink);
  void detach(const std::string& session_id, const sink_ptr& sink);
  bool cancel(const key_account& who, const std::string& session_id);
  std::vector<model_info> models(const key_account& who) const;
  // WebSocket streams `who` may run on one socket.
  std::size_t streams_per_socket(const key_account& who, std::size_t server_limit) const;

  struct state;  // opaque: access_control.cpp

 private:
  std::shared_ptr<state> st_;  // shared with the sessions' meters, which may outlive this
};

// A connection's place in a count (its address's, or its key's connections), given back when
// the ticket goes. Its access_control must outlive it: connections hold their server's
// context, which owns the access_control. A plain object on purpose: releasing a ticket makes
// no virtual call (no shared_ptr control block of its own), which UBSan's vptr check would
// have to verify with a pipe: in a process at its descriptor limit that fails and reads as
// an error (docs/testing.md).
class access_ticket {
 public:
  access_ticket() = default;
  access_ticket(access_ticket&& o) noexcept { *this = std::move(o); }
  access_ticket& operator=(access_ticket&& o) noexcept;
  access_ticket(const access_ticket&) = delete;
  access_ticket& operator=(const access_ticket&) = delete;
  ~access_ticket() { release(); }

  explicit operator bool() const { return st_ != nullptr; }

 private:
  friend class access_control;
  void release();

  access_control::state* st_ = nullptr;
  key_account* key_ = nullptr;  // a key's connection, or
  std::string ip_;              // an address's; neither: admitted without counting
};

}  // namespace streamgate
