#include "app/config.hpp"

#include "actors/json_input.hpp"
#include "app/object_reader.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

namespace streamgate {
namespace {

using json = nlohmann::json;

void read_http(object_reader& r, http_options& h) {
  r.integer("threads", h.threads, 1, 64);
  r.integer("max_body_bytes", h.max_body_bytes, 1024, 64LL << 20);
  r.integer("max_header_bytes", h.max_header_bytes, 1024, 1 << 20);
  r.integer("max_connections", h.max_connections, 1, 1000000);
  r.integer("max_pending_bytes", h.max_pending_bytes, 4096, 256LL << 20);
  r.millis("idle_timeout_ms", h.idle_timeout);
  r.millis("header_timeout_ms", h.header_timeout);
  if (h.header_timeout.count() <= 0)
    throw config_error(r.at("header_timeout_ms") + ": must be at least 1");
  r.millis("sse_keepalive_ms", h.sse_keepalive);
  r.millis("write_timeout_ms", h.write_timeout);
  r.string("web_root", h.web_root);
  r.integer("ws_max_message_bytes", h.ws_max_message_bytes, 256, 64LL << 20);
  r.integer("ws_max_streams", h.ws_max_streams, 1, 100000);
  r.millis("ws_ping_timeout_ms", h.ws_ping_timeout);
  r.millis("ws_heartbeat_ms", h.ws_heartbeat);
  r.boolean("admin", h.admin);
  r.boolean("upstream_on_io_threads", h.upstream_on_io_threads);
}

void read_sessions(object_reader& r, gateway_config& g) {
  r.millis("resume_window_ms", g.sessions.resume_window);
  r.millis("open_timeout_ms", g.sessions.open_timeout);
  r.millis("attempt_deadline_ms", g.sessions.attempt_deadline);
  r.integer("max_attempts", g.sessions.max_attempts, 1, 16);
  r.integer("max_sessions", g.max_sessions, 1, 10000000);
  r.integer("log_budget_bytes", g.log_budget_bytes, 1 << 20, 1LL << 40);
}

void read_quota(object_reader& r, quota_options& q) {
  r.integer("rpm", q.rpm, 0, 1000000);
  r.integer("max_concurrent", q.max_concurrent, 0, 1000000);
  r.millis("queue_timeout_ms", q.queue_timeout);
  r.integer("max_queue", q.max_queue, 0, 10000000);
}

void read_breaker(object_reader& r, breaker_options& b) {
  r.integer("failure_threshold", b.failure_threshold, 1, 1000000);
  r.integer("rate_window", b.rate_window, 0, 100000);
  if (auto* v = r.field("failure_rate")) {
    if (!v->is_number()) throw config_error(r.at("failure_rate") + ": expected number");
    auto x = v->get<double>();
    if (!(x > 0.0 && x <= 1.0))
      throw config_error(r.at("failure_rate") + ": must be above 0 and at most 1");
    b.failure_rate = x;
  }
  r.millis("cooldown_ms", b.cooldown);
  r.integer("half_open_probes", b.half_open_probes, 1, 10000);
}

// An HTTP provider: a preset (the kind) plus overrides. The API key comes from the
// environment variable named in config, read once here; the config file never holds it.
void read_http_provider(object_reader& r, provider_entry& p, const provider_preset& preset) {
  auto& h = p.http;
  h.name = p.name;
  h.base_url = std::string{preset.base_url};
  h.adapter = preset.adapter;
  r.string("base_url", h.base_url);
  if (h.base_url.empty()) throw config_error(r.at("base_url") + ": required for kind custom");
  if (h.base_url.rfind("http://", 0) != 0 && h.base_url.rfind("https://", 0) != 0)
    throw config_error(r.at("base_url") + ": must start with http:// or https://");
  std::string adapter;
  r.string("adapter", adapter);
  if (adapter == "openai" || adapter == "zhipu_legacy")
    h.adapter = adapter == "openai" ? adapter_kind::openai : adapter_kind::zhipu_legacy;
  else if (!adapter.empty())
    throw config_error(r.at("adapter") + ": must be openai or zhipu_legacy");
  r.string("api_key_env", h.api_key_env);
  if (!h.api_key_env.empty()) {
    const char* value = std::getenv(h.api_key_env.c_str());
    if (value == nullptr || *value == '\0')
      throw config_error(r.at("api_key_env") + ": environment variable '" + h.api_key_env +
                         "' is not set");
    h.api_key = secret{value};
    if (h.adapter == adapter_kind::zhipu_legacy &&
        h.api_key.reveal().find('.') == std::string::npos)
      throw config_error(r.at("api_key_env") +
                         ": the zhipu_legacy adapter needs a key of the form <id>.<secret>");
  }
  r.object("rename", [&](object_reader& m) {
    for (auto& client_model : m.keys()) {
      m.string(client_model, h.models[client_model]);
      if (std::find(p.models.begin(), p.models.end(), client_model) == p.models.end())
        p.models.push_back(client_model);
    }
  });
  r.object("headers", [&](object_reader& m) {
    for (auto& name : m.keys()) {
      std::string value;
      m.string(name, value);
      if (name.find_first_of(":\r\n") != std::string::npos ||
          value.find_first_of("\r\n") != std::string::npos)
        throw config_error(m.at(name) + ": not a valid header");
      h.headers.emplace_back(name, value);
    }
  });
  r.object("timeouts", [&](object_reader& t) {
    auto& o = h.timeouts;
    t.millis("connect_ms", o.connect);
    t.millis("first_byte_ms", o.first_byte);
    t.millis("idle_ms", o.idle);
    t.millis("total_ms", o.total);
    for (auto [key, v] : {std::pair{"connect_ms", o.connect},
                          {"first_byte_ms", o.first_byte},
                          {"idle_ms", o.idle},
                          {"total_ms", o.total}}) {
      if (v.count() <= 0) throw config_error(t.at(key) + ": must be at least 1");
    }
  });
  r.string("ca_file", h.ca_file);
  if (!h.ca_file.empty() && !std::ifstream{h.ca_file})
    throw config_error(r.at("ca_file") + ": cannot read '" + h.ca_file + "'");
  r.integer("max_body_bytes", h.max_body_bytes, 1024, 1LL << 30);
  r.integer("max_line_bytes", h.max_line_bytes, 256, 64LL << 20);
}

// A provider's own "quota" object becomes a pool named after the provider.
provider_entry read_provider(const json& j, const std::string& path,
                             std::optional<quota_options>& inline_pool) {
  object_reader r{j, path};
  provider_entry p;
  r.string("name", p.name);
  if (p.name.empty()) throw config_error(r.at("name") + ": required");
  r.string("kind", p.kind);
  r.string_list("models", p.models);
  if (p.kind == "mock") {
    r.object("mock", [&](object_reader& m) {
      m.integer("tokens", p.mock.tokens, 0, 100000);
      m.integer("first_token_ms", p.mock.first_token_ms, 0, 600000);
      m.integer("interval_ms", p.mock.interval_ms, 0, 60000);
      m.string("fail", p.mock.fail);
      m.integer("fail_first", p.mock.fail_first, 0, 1000000);
    });
  } else if (auto* preset = find_preset(p.kind)) {
    read_http_provider(r, p, *preset);
  } else {
    throw config_error(r.at("kind") + ": unknown provider kind '" + p.kind +
                       "' (mock, openai, nvidia, zhipu, hunyuan, zhipu_legacy, custom)");
  }
  if (p.models.empty()) throw config_error(r.at("models") + ": at least one model is required");
  r.string("pool", p.pool);
  r.object("quota", [&](object_reader& q) {
    if (!p.pool.empty()) throw config_error(q.where() + ": give either pool or quota, not both");
    read_quota(q, inline_pool.emplace());
    p.pool = p.name;
  });
  r.finish();
  return p;
}

void read_providers(object_reader& r, gateway_config& g) {
  auto* v = r.field("providers");
  if (!v) return;
  if (!v->is_array()) throw config_error(r.at("providers") + ": expected array");
  g.providers.clear();
  for (std::size_t i = 0; i < v->size(); ++i) {
    auto path = r.at("providers") + "[" + std::to_string(i) + "]";
    std::optional<quota_options> inline_pool;
    auto p = read_provider((*v)[i], path, inline_pool);
    for (auto& other : g.providers) {
      if (other.name == p.name)
        throw config_error(path + ".name: duplicate provider '" + p.name + "'");
    }
    if (inline_pool) {
      if (g.pools.count(p.name) != 0)
        throw config_error(path + ".quota: a quota pool named '" + p.name + "' already exists");
      g.pools[p.name] = *inline_pool;
    } else if (!p.pool.empty() && g.pools.count(p.pool) == 0) {
      throw config_error(path + ".pool: unknown quota pool '" + p.pool + "'");
    }
    g.providers.push_back(std::move(p));
  }
  if (g.providers.empty())
    throw config_error(r.at("providers") + ": at least one provider is required");
}

// The cluster port must not face clients: a loopback or private (RFC 1918, IPv6 ULA) address
// literal, never a wildcard or a name that could resolve anywhere.
bool is_private_address(const std::string& host) {
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    auto a = ntohl(v4.s_addr);
    auto in = [&](std::uint32_t net, int bits) {
      return (a >> (32 - bits)) == (net >> (32 - bits));
    };
    return in(0x7f000000, 8) || in(0x0a000000, 8) || in(0xac100000, 12) || in(0xc0a80000, 16);
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    static const in6_addr loopback = IN6ADDR_LOOPBACK_INIT;
    return std::equal(v6.s6_addr, v6.s6_addr + 16, loopback.s6_addr) ||
           (v6.s6_addr[0] & 0xfe) == 0xfc;
  }
  return false;
}

void check_node_id(const std::string& id, const std::string& where) {
  bool ok = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
  if (!ok) throw config_error(where + ": 1 to 64 of A-Z, a-z, 0-9, '-', '_', '.'");
}

void read_readable_file(object_reader& r, const std::string& key, std::string& out) {
  r.string(key, out);
  if (out.empty()) throw config_error(r.at(key) + ": required");
  if (access(out.c_str(), R_OK) != 0) throw config_error(r.at(key) + ": cannot read '" + out + "'");
}

// A cluster address: HOST:PORT with a port peers can dial (not 0), and an IPv6 HOST in
// brackets ([::1]:7000) taken without them.
http_options cluster_address(const std::string& value, const std::string& where) {
  http_options addr;
  parse_listen(value, where, addr);
  if (addr.port == 0) throw config_error(where + ": port 0 cannot be dialled by the peers");
  auto& h = addr.host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  return addr;
}

void read_cluster(object_reader& r, gateway_config& g) {
  r.object("cluster", [&](object_reader& c) {
    auto& o = g.cluster;
    o.enabled = true;
    c.string("node_id", o.node_id);
    check_node_id(o.node_id, c.at("node_id"));
    std::string listen;
    c.string("listen", listen);
    if (listen.empty()) throw config_error(c.at("listen") + ": required (HOST:PORT)");
    auto addr = cluster_address(listen, c.at("listen"));
    if (!is_private_address(addr.host))
      throw config_error(c.at("listen") + ": '" + addr.host +
                         "' is not a loopback or private address literal: the cluster port must "
                         "not face clients");
    o.listen_host = addr.host;
    o.listen_port = addr.port;
    auto* peers = c.field("peers");
    if (!peers || !peers->is_array() || peers->empty() || peers->size() > 64)
      throw config_error(c.at("peers") + ": expected an array of 1 to 64 peers");
    for (std::size_t i = 0; i < peers->size(); ++i) {
      object_reader pr{(*peers)[i], c.at("peers") + "[" + std::to_string(i) + "]"};
      cluster_peer peer;
      pr.string("id", peer.id);
      check_node_id(peer.id, pr.at("id"));
      std::string address;
      pr.string("address", address);
      auto paddr = cluster_address(address, pr.at("address"));
      peer.host = paddr.host;
      peer.port = paddr.port;
      pr.finish();
      bool taken = peer.id == o.node_id;
      for (auto& other : o.peers) taken = taken || other.id == peer.id;
      if (taken) throw config_error(pr.at("id") + ": node id '" + peer.id + "' is taken");
      o.peers.push_back(std::move(peer));
    }
    c.object("tls", [&](object_reader& t) {
      read_readable_file(t, "certificate", o.tls.certificate);
      read_readable_file(t, "key", o.tls.key);
      read_readable_file(t, "ca", o.tls.ca);
    });
    if (o.tls.ca.empty())
      throw config_error(c.at("tls") +
                         ": required (certificate, key, ca): nodes accept only "
                         "peers that the cluster's CA signed");
    c.object("owners", [&](object_reader& owners) {
      for (auto& pool : owners.keys()) {
        if (g.pools.count(pool) == 0)
          throw config_error(owners.at(pool) + ": unknown quota pool '" + pool + "'");
        std::string owner;
        owners.string(pool, owner);
        auto ids = o.node_ids();
        if (std::find(ids.begin(), ids.end(), owner) == ids.end())
          throw config_error(owners.at(pool) + ": unknown node '" + owner + "'");
        o.owners[pool] = owner;
      }
    });
    c.millis("rejoin_hold_ms", o.rejoin_hold);
    c.millis("reconnect_interval_ms", o.reconnect_interval);
    c.millis("request_timeout_ms", o.request_timeout);
    if (o.reconnect_interval.count() < 10 || o.request_timeout.count() < 10)
      throw config_error(c.where() +
                         ": reconnect_interval_ms and request_timeout_ms must be at "
                         "least 10");
  });
}

void read_pools(object_reader& r, gateway_config& g) {
  r.object("quota_pools", [&](object_reader& pools) {
    for (auto& name : pools.keys()) {
      pools.object(name, [&](object_reader& q) { read_quota(q, g.pools[name]); });
    }
  });
}

void check_provider(const gateway_config& g, const std::string& name, const std::string& path) {
  for (auto& p : g.providers) {
    if (p.name == name) return;
  }
  throw config_error(path + ": unknown provider '" + name + "'");
}

// "model": ["a", "b"] (priority), or {"strategy": ..., "providers": ["a", {"name": "b",
// "weight": 3}]}.
route_config read_route(const json& j, const std::string& path, const gateway_config& g) {
  route_config route;
  const json* list = &j;
  std::string list_path = path;
  std::unique_ptr<object_reader> obj;
  if (j.is_object()) {
    obj = std::make_unique<object_reader>(j, path);
    std::string strategy = "priority";
    obj->string("strategy", strategy);
    if (!parse_route_strategy(strategy, route.strategy))
      throw config_error(obj->at("strategy") + ": unknown strategy '" + strategy +
                         "' (priority, weighted, least_loaded)");
    list = obj->field("providers");
    list_path = obj->at("providers");
    if (!list) throw config_error(list_path + ": required");
  }
  if (!list->is_array()) throw config_error(list_path + ": expected array");
  for (std::size_t i = 0; i < list->size(); ++i) {
    auto item_path = list_path + "[" + std::to_string(i) + "]";
    auto& item = (*list)[i];
    route_target t;
    if (item.is_string()) {
      t.provider = item.get<std::string>();
    } else if (item.is_object()) {
      object_reader tr{item, item_path};
      tr.string("name", t.provider);
      tr.integer("weight", t.weight, 1, 1000000);
      tr.finish();
    } else {
      throw config_error(item_path + ": expected provider name or {name, weight}");
    }
    check_provider(g, t.provider, item_path);
    route.targets.push_back(std::move(t));
  }
  if (route.targets.empty()) throw config_error(list_path + ": at least one provider is required");
  if (obj) obj->finish();
  return route;
}

void read_routes(object_reader& r, gateway_config& g) {
  r.object("routes", [&](object_reader& routes) {
    for (auto& model : routes.keys())
      g.routes[model] = read_route(*routes.field(model), routes.at(model), g);
  });
}

// The key itself, from an environment variable or a file, hashed at once: only its digest is
// kept. Short keys are refused: a gateway key must not be guessable.
key_digest read_key_source(object_reader& k, const std::string& env, const std::string& file) {
  std::string key;
  if (!env.empty()) {
    const char* value = std::getenv(env.c_str());
    if (value == nullptr || *value == '\0')
      throw config_error(k.at("key_env") + ": environment variable '" + env + "' is not set");
    key = value;
  } else {
    // A regular file only: a FIFO or a device (/dev/stdin) would block the start-up.
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      throw config_error(k.at("key_file") + ": cannot read '" + file + "' (a regular file)");
    std::ifstream in{file, std::ios::binary};
    if (!in) throw config_error(k.at("key_file") + ": cannot read '" + file + "'");
    std::string text(4097, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > 4096) throw config_error(k.at("key_file") + ": larger than 4096 bytes");
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    key = std::move(text);
  }
  if (key.size() < 16) throw config_error(k.where() + ": the key is shorter than 16 characters");
  return sha256(key);
}

gateway_key read_key(const json& j, const std::string& path) {
  object_reader k{j, path};
  gateway_key key;
  k.string("name", key.name);
  if (key.name.empty()) throw config_error(k.at("name") + ": required");
  if (key.name.size() > 64 || key.name.find_first_of("\"\\\n{}=,") != std::string::npos)
    throw config_error(k.at("name") + ": at most 64 characters, none of \" \\ { } = ,");
  std::string hex, env, file;
  k.string("sha256", hex);
  k.string("key_env", env);
  k.string("key_file", file);
  if (int(!hex.empty()) + int(!env.empty()) + int(!file.empty()) != 1)
    throw config_error(k.where() + ": give exactly one of sha256, key_env, key_file");
  if (!hex.empty()) {
    if (!parse_hex_digest(hex, key.digest))
      throw config_error(k.at("sha256") + ": expected 64 hexadecimal digits");
  } else {
    key.digest = read_key_source(k, env, file);
  }
  auto& l = key.limits;
  k.integer("rpm", l.rpm, 0, 10000000);
  k.integer("max_streams", l.max_streams, 0, 10000000);
  k.integer("tpm", l.tpm, 0, 1LL << 40);
  k.integer("max_connections", l.max_connections, 0, 10000000);
  k.integer("ws_streams_per_socket", l.streams_per_socket, 0, 100000);
  k.string_list("models", l.models);
  k.boolean("admin", key.admin);
  k.finish();
  return key;
}

void read_auth(object_reader& r, access_config& a) {
  r.boolean("disabled", a.disabled);
  if (auto* v = r.field("keys")) {
    if (!v->is_array()) throw config_error(r.at("keys") + ": expected array");
    if (v->size() > 10000) throw config_error(r.at("keys") + ": at most 10000 keys");
    for (std::size_t i = 0; i < v->size(); ++i) {
      auto path = r.at("keys") + "[" + std::to_string(i) + "]";
      auto key = read_key((*v)[i], path);
      for (auto& other : a.keys) {
        if (other.name == key.name)
          throw config_error(path + ".name: duplicate key name '" + key.name + "'");
        if (digests_equal(other.digest, key.digest))
          throw config_error(path + ": the same key as '" + other.name + "'");
      }
      a.keys.push_back(std::move(key));
    }
  }
  r.string_list("ws_origins", a.ws_origins);
  r.string_list("cors_origins", a.cors_origins);
  r.object("per_client", [&](object_reader& c) {
    auto& p = a.per_client;
    c.integer("max_connections", p.max_connections, 0, 10000000);
    c.integer("session_rpm", p.session_rpm, 0, 10000000);
    c.boolean("exempt_loopback", p.exempt_loopback);
  });
}

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

}  // namespace

void parse_listen(const std::string& value, const std::string& what, http_options& out) {
  auto colon = value.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == value.size())
    throw config_error(what + ": expected HOST:PORT, got '" + value + "'");
  auto port_text = value.substr(colon + 1);
  std::size_t used = 0;
  long port = -1;
  try {
    port = std::stol(port_text, &used);
  } catch (const std::exception&) {
  }
  if (used != port_text.size() || port < 0 || port > 65535)
    throw config_error(what + ": invalid port '" + port_text + "'");
  out.host = value.substr(0, colon);
  out.port = static_cast<std::uint16_t>(port);
}

void apply_config_json(const std::string& text, app_config& cfg) {
  auto in = parse_json_input(text);
  if (in.outcome == json_input::status::too_deep)
    throw config_error("(root): " + too_deep_message("the configuration"));
  if (!in.ok()) throw config_error("(root): the configuration is not valid JSON");
  const json& j = in.value;
  object_reader r{j, ""};
  std::string listen;
  r.string("listen", listen);
  if (!listen.empty()) parse_listen(listen, "listen", cfg.http);
  r.object("log", [&](object_reader& l) {
    std::string level;
    l.string("level", level);
    if (!level.empty() && !log::parse_level(level, cfg.log_level))
      throw config_error(l.at("level") + ": unknown level '" + level + "'");
    l.string("file", cfg.log_file);
  });
  r.object("http", [&](object_reader& h) { read_http(h, cfg.http); });
  r.object("auth", [&](object_reader& a) { read_auth(a, cfg.http.access); });
  r.string("admin_listen", cfg.admin_listen);
  r.object("sessions", [&](object_reader& s) { read_sessions(s, cfg.gateway); });
  r.object("shutdown", [&](object_reader& s) { s.millis("drain_ms", cfg.drain); });
  r.integer("actor_threads", cfg.actor_threads, 1, 64);
  r.integer("upstream_threads", cfg.gateway.upstream_threads, 1, 64);
  if (cfg.http.upstream_on_io_threads && cfg.gateway.upstream_threads > 1)
    throw config_error(
        "upstream_threads: more than one driver thread and http.upstream_on_io_threads exclude "
        "each other");
  r.object("supervision", [&](object_reader& s) {
    auto& o = cfg.gateway.restarts;
    s.integer("max_restarts", o.max_restarts, 0, 1000);
    s.millis("window_ms", o.window);
    s.millis("backoff_initial_ms", o.backoff_initial);
    s.millis("backoff_max_ms", o.backoff_max);
    s.millis("reclaim_window_ms", o.reclaim_window);
  });
  r.object("breaker", [&](object_reader& b) { read_breaker(b, cfg.gateway.breaker); });
  read_pools(r, cfg.gateway);
  read_providers(r, cfg.gateway);
  read_routes(r, cfg.gateway);
  read_cluster(r, cfg.gateway);
  r.finish();
}

std::string usage_text() {
  return "usage: streamgate [options]\n"
         "  --config FILE        JSON configuration (docs/configuration.md)\n"
         "  --listen HOST:PORT   listening address (default 127.0.0.1:8080)\n"
         "  --log-level LEVEL    trace, debug, info, warn, error or off (default info)\n"
         "  --web-root DIR       serve the browser page from DIR at /\n"
         "  --admin              enable /admin/* (provider view, chaos crash endpoint)\n"
         "  --admin-listen HOST:PORT|off\n"
         "                       the operator's listener: /metrics, /admin/*, health\n"
         "                       (default 127.0.0.1, the public port + 1)\n"
         "  --help               this text\n"
         "Without --config, the built-in mock provider serves model \"mock\".\n";
}

cli_result parse_command_line(const std::vector<std::string>& args) {
  cli_result out;
  std::string config_file, listen, level, web_root, admin_listen;
  bool admin = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto& a = args[i];
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= args.size()) throw config_error(std::string{name} + ": missing value");
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      out.help = true;
      return out;
    } else if (a == "--config") {
      config_file = value("--config");
    } else if (a == "--listen") {
      listen = value("--listen");
    } else if (a == "--log-level") {
      level = value("--log-level");
    } else if (a == "--admin") {
      admin = true;
    } else if (a == "--admin-listen") {
      admin_listen = value("--admin-listen");
    } else if (a == "--web-root") {
      web_root = value("--web-root");
    } else {
      throw config_error(a + ": unknown option (see --help)");
    }
  }
  if (!config_file.empty()) {
    std::ifstream in{config_file};
    if (!in) throw config_error("--config: cannot read '" + config_file + "'");
    std::stringstream text;
    text << in.rdbuf();
    apply_config_json(text.str(), out.config);
  }
  // Flags override the file.
  if (!listen.empty()) parse_listen(listen, "--listen", out.config.http);
  if (!level.empty() && !log::parse_level(level, out.config.log_level))
    throw config_error("--log-level: unknown level '" + level + "'");
  if (!web_root.empty()) out.config.http.web_root = web_root;
  if (admin) out.config.http.admin = true;
  if (!admin_listen.empty()) out.config.admin_listen = admin_listen;
  check_exposure(out.config);
  return out;
}

void check_exposure(const app_config& cfg) {
  http_options check;
  if (cfg.admin_listen != "off" && !cfg.admin_listen.empty())
    parse_listen(cfg.admin_listen, "admin_listen", check);
  auto& access = cfg.http.access;
  if (!is_loopback_host(cfg.http.host) && !access.requires_key() && !access.disabled)
    throw config_error("listen: " + cfg.http.host +
                       " is not a loopback address, and no gateway key is configured: anyone "
                       "who can reach it would spend the providers' quota. Configure auth.keys, "
                       "or set auth.disabled: true to serve it open (docs/security.md)");
}

bool admin_options(const app_config& cfg, http_options& out) {
  if (cfg.admin_listen == "off") return false;
  out = cfg.http;
  out.serves = http_options::role::admin;
  out.web_root.clear();
  out.access = {};
  out.access.disabled = true;
  if (cfg.admin_listen.empty()) {
    out.host = "127.0.0.1";
    out.port = cfg.http.port == 0 ? 0 : static_cast<std::uint16_t>(cfg.http.port + 1);
  } else {
    parse_listen(cfg.admin_listen, "admin_listen", out);
  }
  return true;
}

}  // namespace streamgate
