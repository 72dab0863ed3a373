#pragma once

#include "actors/quota_options.hpp"
#include "actors/route_config.hpp"
#include "actors/router_actor.hpp"

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace streamgate {

struct router_config {
  std::map<std::string, route_config> routes;      // model → candidates and strategy
  std::map<std::string, quota_pool_actor> pools;   // provider → its quota pool
  std::map<std::string, quota_gauges_ptr> gauges;  // provider → its pool's figures
};

// What routing knows: the routes, each provider's current handle (and opener), the circuit
// breakers' admits, the round-robin turns. Thread-safe: the engine writes it as things change
// and a session reads its plan from it on the session's own thread, with no message to a
// router actor and none back (issue 22: two actor activations fewer per stream). One short
// lock per plan, as one plan is asked for per request. It outlives a router actor's crash.
class route_table {
 public:
  explicit route_table(router_config config);

  // The candidates for `model`, in the order to try them. Takes a half-open breaker's probe and
  // moves the weighted round-robin on.
  route_plan plan(const std::string& model);
  // The current handles of every provider of the model that is up, in configured order: no
  // probe taken, no round-robin turn (a plan's refresh).
  route_plan lookup(const std::string& model) const;

  // A provider (re)started; a null handle: restarting. `opener` may be null.
  void set_provider(const std::string& name, provider_actor handle, upstream_opener_ptr opener);
  // The provider is down for good (restart limit reached).
  void set_down(const std::string& name);
  // The provider's quota pool was restarted: its new handle.
  void set_pool(const std::string& provider, quota_pool_actor pool);
  // How many more plans may include the provider (0: open; route_unlimited: closed).
  void set_admits(const std::string& name, std::uint32_t admits);

  // A copy of what it holds, taken under one lock (for tests and the admin view).
  struct view_type {
    router_config config;
    std::map<std::string, provider_actor> providers;
    std::map<std::string, std::uint32_t> admits;  // absent: closed, no limit
    std::uint64_t plans = 0;                      // lookups are not counted
  };
  view_type view() const;

 private:
  route_candidate candidate_of(const std::string& name) const;

  mutable std::mutex mu_;
  router_config config_;                                // guarded by mu_, as is all below
  std::map<std::string, provider_actor> providers_;     // null handle: down or restarting
  std::map<std::string, upstream_opener_ptr> openers_;  // of the current handle, where it has one
  std::set<std::string> down_;                          // gave up restarting
  std::map<std::string, std::uint32_t> admits_;
  // Smooth weighted round-robin: current weight per model and provider.
  std::map<std::string, std::map<std::string, std::int64_t>> wrr_current_;
  std::uint64_t plans_ = 0;
};

// The order in which to try `eligible` (indices into route.targets) — pure, for tests.
std::vector<std::size_t> order_candidates(const route_config& route,
                                          std::vector<std::size_t> eligible,
                                          std::map<std::string, std::int64_t>& wrr_current,
                                          const std::map<std::string, quota_gauges_ptr>& gauges);

}  // namespace streamgate
