#include "cluster/cluster_node.hpp"

#include "cluster/remote_sink.hpp"

#include "telemetry/log.hpp"
#include "telemetry/stats.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <algorithm>
#include <memory>

namespace streamgate {
namespace {

std::string address_of(const cluster_peer& p) {
  return p.host + ":" + std::to_string(p.port);
}

void publish_peer_counts(cluster_node_state& st) {
  std::int64_t up = 0;
  for (auto& p : st.peers) up += p.handle ? 1 : 0;
  auto& peers = stats::cluster().peers;
  peers.with({"connected"}).set(up);
  peers.with({"unreachable"}).set(static_cast<std::int64_t>(st.peers.size()) - up);
}

// Logs a peer's problem once, not on every dial.
void note_problem(peer_link& p, const std::string& problem) {
  if (p.last_problem == problem) return;
  p.last_problem = problem;
  log::warn("cluster_peer_unreachable",
            {{"peer", p.config.id}, {"address", address_of(p.config)}, {"problem", problem}});
}

// Asks the pool's owner, if it is connected, for its handle, and hands it to the proxy.
void find_owner_pool(cluster_node_pointer self, const std::string& name) {
  auto& st = self->state;
  auto proxy = st.proxies.find(name);
  if (proxy == st.proxies.end()) return;
  auto owner = st.options.owner_of(name);
  for (auto& p : st.peers) {
    if (p.config.id != owner || !p.handle) continue;
    self->request(p.handle, st.options.request_timeout, pool_atom::value, name)
        .then([proxy = proxy->second](
                  quota_pool_actor& pool) { caf::anon_send(proxy, owner_atom::value, pool); },
              [self, name](caf::error& e) {
                log::warn("cluster_pool_lookup_failed",
                          {{"pool", name}, {"error", self->system().render(e)}});
              });
  }
}

void on_greeted(cluster_node_pointer self, std::size_t index, cluster_node_actor handle) {
  auto& p = self->state.peers[index];
  p.dialing = false;
  if (p.handle) return;
  p.handle = handle;
  p.last_problem.clear();
  // A new CAF node under a known id is a restarted process: what the old one held is gone.
  if (p.node && p.node != handle->node()) {
    for (auto& [name, pool] : self->state.owned)
      caf::anon_send(pool, reachable_atom::value, p.node);
  }
  p.node = handle->node();
  self->state.greeted.insert(handle->node());
  self->monitor(handle);
  self->state.sessions->set_connected(p.config.id, true);
  log::info("cluster_peer_up", {{"peer", p.config.id}, {"address", address_of(p.config)}});
  stats::cluster().peer_events.with({p.config.id, "up"}).inc();
  publish_peer_counts(self->state);
  // Asked after this handler: a hello's answer must reach the peer before the questions that
  // follow it.
  auto& st = self->state;
  for (auto& [name, proxy] : st.proxies) {
    if (st.options.owner_of(name) == p.config.id) self->send(self, proxy_atom::value, name, proxy);
  }
}

void dial(cluster_node_pointer self, std::size_t index) {
  auto& st = self->state;
  auto& p = st.peers[index];
  p.dialing = true;
  auto failed = [self, index](const std::string& problem) {
    auto& p = self->state.peers[index];
    p.dialing = false;
    note_problem(p, problem);
  };
  self->request(st.dialer, st.options.request_timeout, caf::connect_atom::value, p.config.host,
                p.config.port)
      .then(
          [self, index, failed](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>&) {
            auto handle = caf::actor_cast<cluster_node_actor>(ptr);
            if (!handle) return failed("no cluster node published there");
            auto& st = self->state;
            self->request(handle, st.options.request_timeout, hello_atom::value,
                          cluster_protocol_version, st.options.node_id, st.digest)
                .then(
                    [self, index, handle, failed](std::string& their_id) {
                      auto& p = self->state.peers[index];
                      if (their_id != p.config.id) {
                        stats::cluster().peer_events.with({p.config.id, "refused"}).inc();
                        return failed("the node there is '" + their_id + "', not '" + p.config.id +
                                      "'");
                      }
                      on_greeted(self, index, handle);
                    },
                    [self, index, failed](caf::error& e) {
                      stats::cluster()
                          .peer_events.with({self->state.peers[index].config.id, "refused"})
                          .inc();
                      failed("refused: " + self->system().render(e));
                    });
          },
          [self, failed](caf::error& e) { failed(self->system().render(e)); });
}

// A request from a node that did not say hello (or said it with another version or
// configuration) gets nothing but this.
caf::error not_greeted() {
  return caf::make_error(caf::sec::invalid_argument,
                         "cluster: say hello with a matching protocol version first");
}

// The configured peer with that node id (null if none).
peer_link* link_of(cluster_node_state& st, const std::string& id) {
  auto it = std::find_if(st.peers.begin(), st.peers.end(),
                         [&](const peer_link& p) { return p.config.id == id; });
  return it == st.peers.end() ? nullptr : &*it;
}

bool greeted(cluster_node_pointer self) {
  auto sender = self->current_sender();
  // This node's own engine and proxies need no hello.
  return sender && (sender->node() == self->node() || self->state.greeted.count(sender->node()));
}

}  // namespace

cluster_node_impl::behavior_type cluster_node(cluster_node_pointer self, cluster_options options,
                                              std::map<std::string, quota_options> pools,
                                              caf::io::middleman_actor dialer,
                                              std::shared_ptr<cluster_sessions> sessions) {
  auto& st = self->state;
  st.sessions = std::move(sessions);
  st.options = std::move(options);
  std::vector<std::string> names;
  for (auto& [name, limits] : pools) names.push_back(name);
  st.digest = st.options.agreement_digest(names);
  st.limits = std::move(pools);
  st.dialer = std::move(dialer);
  for (auto& p : st.options.peers) st.peers.push_back(peer_link{p, {}, false, {}});
  publish_peer_counts(st);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    // A client's relay on another node quit (its client left, or its node died).
    if (auto it = st.served.find(dm.source); it != st.served.end()) {
      st.sessions->detach(it->second.first, it->second.second);
      st.served.erase(it);
      return;
    }
    for (auto& p : st.peers) {
      if (!p.handle || dm.source != caf::actor_cast<caf::actor_addr>(p.handle)) continue;
      p.handle = nullptr;
      st.greeted.erase(dm.source.node());
      st.sessions->set_connected(p.config.id, false);
      // The peer may be cut off rather than dead, and then serves its share of each pool in
      // degraded mode: the owner keeps that room until it rejoins (docs/cluster.md).
      for (auto& [name, pool] : st.owned) {
        auto share = st.options.share_of(st.limits[name].max_concurrent, p.config.id);
        caf::anon_send(pool, unreachable_atom::value, p.node, share);
      }
      log::warn("cluster_peer_down",
                {{"peer", p.config.id}, {"reason", self->system().render(dm.reason)}});
      stats::cluster().peer_events.with({p.config.id, "down"}).inc();
      p.last_problem = "down";
      publish_peer_counts(st);
    }
  });
  self->send(self, dial_atom::value);
  return {
      [self](hello_atom, std::uint32_t version, std::string& their_id,
             std::string& digest) -> caf::result<std::string> {
        auto& st = self->state;
        auto sender = self->current_sender();
        if (version != cluster_protocol_version) {
          log::error("cluster_peer_refused", {{"peer", their_id},
                                              {"their_version", version},
                                              {"our_version", cluster_protocol_version}});
          return caf::make_error(caf::sec::incompatible_versions,
                                 "cluster protocol version " + std::to_string(version) +
                                     " is not this node's " +
                                     std::to_string(cluster_protocol_version) +
                                     ": upgrade every node to one version (docs/cluster.md)");
        }
        if (digest != st.digest) {
          log::error("cluster_peer_refused",
                     {{"peer", their_id}, {"problem", "configuration differs"}});
          return caf::make_error(
              caf::sec::invalid_argument,
              "cluster configuration differs (node ids or pool owners): give every node the "
              "same cluster.peers and cluster.owners");
        }
        auto peer = link_of(st, their_id);
        if (!sender || !peer)
          return caf::make_error(caf::sec::invalid_argument,
                                 "cluster: '" + their_id + "' is not a configured peer");
        st.greeted.insert(sender->node());
        // Only the node with the lower id dials (two connections between one pair of nodes
        // confuse CAF 0.17's BASP); the dialled one learns its peer from this hello. A peer
        // that restarted says hello from a new node: it replaces the old link, whose down
        // message then matches nothing.
        auto handle = caf::actor_cast<cluster_node_actor>(sender);
        if (peer->handle && peer->handle->node() != sender->node()) {
          self->demonitor(caf::actor_cast<caf::actor_addr>(peer->handle));
          peer->handle = nullptr;
        }
        on_greeted(self, static_cast<std::size_t>(peer - st.peers.data()), handle);
        return st.options.node_id;
      },
      [self](pool_atom, const std::string& name) -> caf::result<quota_pool_actor> {
        if (!greeted(self)) return not_greeted();
        auto& owned = self->state.owned;
        auto it = owned.find(name);
        if (it == owned.end())
          return caf::make_error(caf::sec::invalid_argument, "this node does not own pool " + name);
        return it->second;
      },
      [self](overage_atom, const std::string& name) -> caf::result<std::uint32_t> {
        if (!greeted(self)) return not_greeted();
        auto& proxies = self->state.proxies;
        auto it = proxies.find(name);
        if (it == proxies.end()) return std::uint32_t{0};
        return self->delegate(it->second, overage_atom::value);
      },
      [self](own_atom, const std::string& name, quota_pool_control& pool) {
        self->state.owned[name] = std::move(pool);
      },
      [self](proxy_atom, const std::string& name, pool_proxy_actor& proxy) {
        self->state.proxies[name] = proxy;
        find_owner_pool(self, name);
      },
      [self](owner_lost_atom, const std::string& name) {
        // The owner's node may be up with a restarted pool: ask again after a moment; if the
        // node is down, its reconnection asks.
        auto& st = self->state;
        auto proxy = st.proxies.find(name);
        if (proxy == st.proxies.end()) return;
        self->delayed_send(self, st.options.reconnect_interval, proxy_atom::value, name,
                           proxy->second);
      },
      [self](peers_atom, const std::string& name) -> caf::result<std::uint32_t> {
        auto& st = self->state;
        struct tally {
          std::uint32_t sum = 0;
          std::size_t left = 0;
        };
        auto t = std::make_shared<tally>();
        for (auto& p : st.peers) t->left += p.handle ? 1 : 0;
        // Before the promise: once made, it alone answers.
        if (t->left == 0) return std::uint32_t{0};
        auto promise = self->make_response_promise<std::uint32_t>();
        auto one = [t, promise](std::uint32_t n) mutable {
          t->sum += n;
          if (--t->left == 0) promise.deliver(t->sum);
        };
        for (auto& p : st.peers) {
          if (!p.handle) continue;
          // A peer that does not answer in time counts as holding nothing beyond its share:
          // it is unreachable, and its streams are as good as gone for this node.
          self->request(p.handle, st.options.request_timeout, overage_atom::value, name)
              .then([one](std::uint32_t n) mutable { one(n); },
                    [one](caf::error&) mutable { one(0); });
        }
        return promise;
      },
      [self](attach_atom, const std::string& id, std::uint64_t after, const std::string& owner,
             relay_actor& relay) -> caf::result<bool> {
        if (!greeted(self)) return not_greeted();
        auto& st = self->state;
        auto sink = std::make_shared<remote_sink>(relay);
        if (!st.sessions->attach(owner, id, after, sink)) return false;
        auto addr = caf::actor_cast<caf::actor_addr>(relay);
        st.served[addr] = {id, sink};
        self->monitor(addr);
        return true;
      },
      [self](detach_atom, const std::string& id, relay_actor& relay) {
        if (!greeted(self)) return;
        auto& st = self->state;
        auto it = st.served.find(caf::actor_cast<caf::actor_addr>(relay));
        if (it == st.served.end() || it->second.first != id) return;
        st.sessions->detach(id, it->second.second);
        self->demonitor(it->first);
        st.served.erase(it);
      },
      [self](cancel_atom, const std::string& id, const std::string& owner) -> caf::result<bool> {
        if (!greeted(self)) return not_greeted();
        return self->state.sessions->cancel(owner, id);
      },
      [self](peer_atom, const std::string& id) -> caf::result<cluster_node_actor> {
        auto link = link_of(self->state, id);
        if (!link || !link->handle)
          return caf::make_error(caf::sec::invalid_argument,
                                 "cluster: node '" + id + "' is not connected");
        return link->handle;
      },
      [self](remote_atom, cancel_atom, std::string& id, std::string& owner) {
        auto link = link_of(self->state, session_node(id));
        if (!link || !link->handle) return;
        self->request(link->handle, self->state.options.request_timeout, cancel_atom::value, id,
                      owner)
            .then([](bool) {},
                  [self](caf::error& e) {
                    log::warn("cluster_cancel_failed", {{"error", self->system().render(e)}});
                  });
      },
      [self](dial_atom) {
        auto& st = self->state;
        for (std::size_t i = 0; i < st.peers.size(); ++i) {
          auto& p = st.peers[i];
          if (!p.handle && !p.dialing && st.options.node_id < p.config.id) dial(self, i);
        }
        self->delayed_send(self, st.options.reconnect_interval, dial_atom::value);
      },
  };
}

}  // namespace streamgate
