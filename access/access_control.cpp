#include "access/access_control.hpp"

#include "access/rate_window.hpp"
#include "actors/error_code.hpp"
#include "telemetry/log.hpp"
#include "telemetry/stats.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace streamgate {

using clock_type = rate_window::clock;

class key_account {
 public:
  explicit key_account(gateway_key k)
      : key(std::move(k)),
        rpm(key.limits.rpm),
        tpm(key.limits.tpm),
        streams_gauge(stats::access().streams.with({key.name})),
        connections_gauge(stats::access().connections.with({key.name})),
        tokens_counter(stats::access().tokens.with({key.name})) {}

  bool allows(const std::string& model) const {
    auto& m = key.limits.models;
    return m.empty() || std::find(m.begin(), m.end(), model) != m.end();
  }

  const gateway_key key;
  std::mutex mu;  // guards what follows
  rate_window rpm;
  rate_window tpm;
  std::uint32_t streams = 0;
  std::uint32_t connections = 0;
  // Tokens counted on the logging threads, not yet taken from `tpm`: a per-token lock would
  // make every stream of a key wait on one mutex.
  std::atomic<std::int64_t> unbilled{0};
  metrics::gauge& streams_gauge;
  metrics::gauge& connections_gauge;
  metrics::counter& tokens_counter;
};

namespace {

struct client_entry {
  std::uint32_t connections = 0;
  rate_window starts;
};

// Entries of addresses with no open connection go once there are this many: the table
// stays bounded whatever addresses a flood comes from.
constexpr std::size_t max_client_entries = 65536;

}  // namespace

struct access_control::state {
  access_config cfg;
  session_service& engine;
  std::vector<std::unique_ptr<key_account>> keys;
  // By digest: a request's key costs one hash and one comparison however many keys there
  // are. The lookup's timing depends only on the SHA-256 of what the caller sent, which tells
  // it nothing about any configured key; the final comparison is constant-time.
  std::unordered_map<std::string, key_account*> by_digest;
  key_account anonymous{gateway_key{"anonymous", {}, {}, false}};
  std::mutex owners_mu;
  std::unordered_map<std::string, const key_account*> owners;  // sessions started with a key
  std::mutex clients_mu;
  std::unordered_map<std::string, client_entry> clients;

  state(access_config c, session_service& e) : cfg(std::move(c)), engine(e) {
    for (auto& k : cfg.keys) {
      keys.push_back(std::make_unique<key_account>(k));
      by_digest.emplace(std::string(k.digest.begin(), k.digest.end()), keys.back().get());
    }
    // The digests stay in `keys` only.
    for (auto& k : cfg.keys) k.digest = {};
  }

  bool limited(const client_address& from) const {
    return !(from.loopback && cfg.per_client.exempt_loopback);
  }

  // Who started a session, as other cluster nodes compare it: the key's configured name
  // (every node has the same keys), never the key.
  std::string owner_tag(const key_account& who) const {
    return &who == &anonymous ? std::string{} : "key:" + who.key.name;
  }

  bool owns(const key_account& who, const std::string& id) {
    if (&who == &anonymous) return true;
    std::lock_guard<std::mutex> lock{owners_mu};
    auto it = owners.find(id);
    return it != owners.end() && it->second == &who;
  }

  // The entry of `ip`, made when new; clients_mu held. A full table first drops the
  // addresses with no open connection (their session-start history goes with them).
  client_entry& client(const std::string& ip, clock_type::time_point now) {
    auto it = clients.find(ip);
    if (it != clients.end()) return it->second;
    if (clients.size() >= max_client_entries) {
      for (auto c = clients.begin(); c != clients.end();)
        c = c->second.connections == 0 ? clients.erase(c) : std::next(c);
    }
    return clients.emplace(ip, client_entry{0, rate_window{cfg.per_client.session_rpm, now}})
        .first->second;
  }
};

namespace {

// Follows one session for its key: counts its tokens as they are logged, and gives its
// stream slot back at the terminal event, or when the session goes without one. It lives as
// long as the session's log, so a slot cannot leak.
class session_meter final : public event_sink {
 public:
  session_meter(std::shared_ptr<access_control::state> st, key_account& key)
      : st_(std::move(st)), key_(key) {}

  ~session_meter() override {
    end();
    if (id_.empty()) return;
    std::lock_guard<std::mutex> lock{st_->owners_mu};
    st_->owners.erase(id_);
  }

  void own(const std::string& id) {
    std::lock_guard<std::mutex> lock{st_->owners_mu};
    id_ = id;
    st_->owners[id_] = &key_;
  }

  bool deliver(const event_ptr& ev) override {
    if (ev->is_output()) {
      bill(1);
      ++estimated_;
    } else if (ev->kind == event_kind::usage) {
      // The provider's count replaces the estimate: prompt tokens included.
      auto total = static_cast<std::int64_t>(ev->usage.total());
      bill(total - estimated_);
      estimated_ = total;
    } else if (ev->terminal()) {
      end();
    }
    return true;
  }

  const char* transport() const override { return "meter"; }

 private:
  void bill(std::int64_t n) {
    key_.unbilled.fetch_add(n, std::memory_order_relaxed);
    if (n > 0) key_.tokens_counter.inc(static_cast<std::uint64_t>(n));
  }

  void end() {
    if (ended_) return;
    ended_ = true;
    std::lock_guard<std::mutex> lock{key_.mu};
    --key_.streams;
    key_.streams_gauge.dec();
  }

  std::shared_ptr<access_control::state> st_;
  key_account& key_;
  std::string id_;
  std::int64_t estimated_ = 0;
  bool ended_ = false;  // calls never overlap (event_sink's rule), and the last is ~
};

start_outcome refused(std::string_view code, std::string message, std::uint32_t retry = 0) {
  start_outcome out;
  out.error_code = std::string{code};
  out.message = std::move(message);
  out.retry_after_s = retry;
  return out;
}

}  // namespace

access_control::access_control(access_config config, session_service& engine)
    : st_(std::make_shared<state>(std::move(config), engine)) {}

access_control::~access_control() = default;

const access_config& access_control::config() const {
  return st_->cfg;
}

std::string_view access_control::bearer_token(std::string_view authorization) {
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() <= scheme.size()) return {};
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (static_cast<char>(std::tolower(static_cast<unsigned char>(authorization[i]))) != scheme[i])
      return {};
  }
  auto token = authorization.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

const key_account* access_control::authenticate(std::string_view credential) const {
  if (!st_->cfg.requires_key()) return &st_->anonymous;
  if (credential.empty()) return nullptr;
  auto digest = sha256(credential);
  auto it = st_->by_digest.find(std::string(digest.begin(), digest.end()));
  if (it == st_->by_digest.end() || !digests_equal(it->second->key.digest, digest)) return nullptr;
  return it->second;
}

bool access_control::is_admin(const key_account& who) const {
  return who.key.admin;
}

const std::string& access_control::name_of(const key_account& who) const {
  return who.key.name;
}

access_ticket& access_ticket::operator=(access_ticket&& o) noexcept {
  if (this == &o) return *this;
  release();
  st_ = std::exchange(o.st_, nullptr);
  key_ = std::exchange(o.key_, nullptr);
  ip_ = std::move(o.ip_);
  o.ip_.clear();
  return *this;
}

void access_ticket::release() {
  if (st_ == nullptr) return;
  if (key_ != nullptr) {
    std::lock_guard<std::mutex> lock{key_->mu};
    --key_->connections;
    key_->connections_gauge.dec();
  } else if (!ip_.empty()) {
    std::lock_guard<std::mutex> lock{st_->clients_mu};
    auto it = st_->clients.find(ip_);
    if (it != st_->clients.end() && --it->second.connections == 0 &&
        it->second.starts.full(clock_type::now()))
      st_->clients.erase(it);
  }
  st_ = nullptr;
  key_ = nullptr;
}

access_ticket access_control::open_connection(const client_address& from) {
  access_ticket t;
  auto limit = st_->cfg.per_client.max_connections;
  if (limit != 0 && st_->limited(from) && !from.ip.empty()) {
    std::lock_guard<std::mutex> lock{st_->clients_mu};
    auto& entry = st_->client(from.ip, clock_type::now());
    if (entry.connections >= limit) {
      stats::limits().rejected.with({"client_connections"}).inc();
      return t;
    }
    ++entry.connections;
    t.ip_ = from.ip;
  }
  t.st_ = st_.get();
  return t;
}

access_ticket access_control::bind_connection(const key_account& who) {
  access_ticket t;
  auto& k = const_cast<key_account&>(who);
  auto limit = k.key.limits.max_connections;
  std::lock_guard<std::mutex> lock{k.mu};
  if (limit != 0 && k.connections >= limit) {
    stats::limits().rejected.with({"key_connections"}).inc();
    return t;
  }
  ++k.connections;
  k.connections_gauge.inc();
  t.st_ = st_.get();
  t.key_ = &k;
  return t;
}

start_outcome access_control::start(const key_account& who, const client_address& from,
                                    chat_request req, start_options opts) {
  auto& k = const_cast<key_account&>(who);
  auto& sessions = stats::access().sessions;
  auto refuse = [&](std::string_view code, std::string message, std::uint32_t retry = 0) {
    sessions.with({k.key.name, code}).inc();
    log::warn("access_refusal",
              {{"key", k.key.name}, {"code", code}, {"model", excerpt(req.model)}});
    return refused(code, std::move(message), retry);
  };
  if (!k.allows(req.model))
    return refuse(error_code::model_not_allowed,
                  "this key may not use the model '" + excerpt(req.model) + "'");
  auto now = clock_type::now();
  if (st_->cfg.per_client.session_rpm > 0 && st_->limited(from)) {
    std::lock_guard<std::mutex> lock{st_->clients_mu};
    auto& starts = st_->client(from.ip, now).starts;
    if (!starts.take(now))
      return refuse(error_code::client_rate_limited,
                    "this address starts sessions faster than the gateway allows",
                    starts.retry_after_s(now));
  }
  {
    std::lock_guard<std::mutex> lock{k.mu};
    k.tpm.charge(now, static_cast<double>(k.unbilled.exchange(0, std::memory_order_relaxed)));
    auto& lim = k.key.limits;
    if (!k.tpm.available(now))
      return refuse(error_code::token_limit,
                    "this key used its " + std::to_string(lim.tpm) + " tokens per minute",
                    k.tpm.retry_after_s(now));
    if (lim.max_streams != 0 && k.streams >= lim.max_streams)
      return refuse(error_code::stream_limit,
                    "this key runs its " + std::to_string(lim.max_streams) + " streams at once", 1);
    if (!k.rpm.take(now))
      return refuse(error_code::rate_limited,
                    "this key started its " + std::to_string(lim.rpm) + " sessions this minute",
                    k.rpm.retry_after_s(now));
    ++k.streams;
    k.streams_gauge.inc();
  }
  auto meter = std::make_shared<session_meter>(st_, k);
  opts.observer = meter;
  opts.owner = st_->owner_tag(k);
  auto out = st_->engine.start(std::move(req), std::move(opts));
  if (!out.ok()) {
    std::lock_guard<std::mutex> lock{k.mu};
    k.rpm.charge(now, -1);  // the engine refused it: not a session the key started
    sessions.with({k.key.name, out.error_code}).inc();
    return out;  // the meter goes with `opts` and gives the stream slot back
  }
  sessions.with({k.key.name, "started"}).inc();
  if (&k != &st_->anonymous) meter->own(out.session_id);
  return out;
}

bool access_control::attach(const key_account& who, const std::string& session_id,
                            std::uint64_t after_seq, sink_ptr sink) {
  // Another node's session: that node knows who started it and checks the tag.
  if (st_->engine.remote(session_id))
    return st_->engine.attach_as(st_->owner_tag(who), session_id, after_seq, std::move(sink));
  return st_->owns(who, session_id) && st_->engine.attach(session_id, after_seq, std::move(sink));
}

void access_control::detach(const std::string& session_id, const sink_ptr& sink) {
  st_->engine.detach(session_id, sink);
}

bool access_control::cancel(const key_account& who, const std::string& session_id) {
  if (st_->engine.remote(session_id)) return st_->engine.cancel_as(st_->owner_tag(who), session_id);
  return st_->owns(who, session_id) && st_->engine.cancel(session_id);
}

std::vector<model_info> access_control::models(const key_account& who) const {
  auto all = st_->engine.models();
  all.erase(std::remove_if(all.begin(), all.end(),
                           [&](const model_info& m) { return !who.allows(m.id); }),
            all.end());
  return all;
}

std::size_t access_control::streams_per_socket(const key_account& who,
                                               std::size_t server_limit) const {
  auto own = who.key.limits.streams_per_socket;
  return own == 0 ? server_limit : std::min<std::size_t>(own, server_limit);
}

}  // namespace streamgate
