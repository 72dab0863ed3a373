#pragma once

// A transfer_runner that the test plays by hand: it records starts and cancels and keeps each
// transfer's callback, so the test can act as the driver thread by invoking it (also after a
// cancel, as the real driver may until it takes the cancel command).

#include "actors/event_log.hpp"
#include "providers/http/curl_driver.hpp"
#include "providers/http_provider.hpp"
#include "providers/http_upstream.hpp"

#include <caf/all.hpp>

#include <map>
#include <vector>

namespace streamgate::test {

class scripted_runner : public transfer_runner {
 public:
  transfer_id start(upstream_request request, transfer_callback on_event) override {
    auto id = next_id++;
    requests[id] = std::move(request);
    callbacks[id] = std::move(on_event);
    return id;
  }
  void cancel(transfer_id id) override { cancels.push_back(id); }

  transfer_id next_id = 1;
  std::map<transfer_id, upstream_request> requests;
  std::map<transfer_id, transfer_callback> callbacks;
  std::vector<transfer_id> cancels;
};

// The provider both upstream tests talk to: "client-model" is "provider-model" upstream.
inline http_provider_config test_provider_config() {
  http_provider_config pc;
  pc.name = "p";
  pc.base_url = "http://upstream.test/v1";
  pc.models["client-model"] = "provider-model";
  return pc;
}

// A session's log with `sink` attached from the start, on the real clock.
inline std::shared_ptr<event_log> log_into(std::shared_ptr<event_sink> sink) {
  event_log::options o;
  o.first_sink = std::move(sink);
  o.now = [] { return event_log::clock::now(); };
  return std::make_shared<event_log>(std::move(o));
}

// An HTTP provider as the engine makes one: its opener, and its actor supervising it.
struct http_provider_parts {
  provider_actor handle;
  std::shared_ptr<http_upstream> opener;
};

inline http_provider_parts spawn_http_provider(caf::actor_system& sys, http_provider_config pc,
                                               std::shared_ptr<transfer_runner> runner,
                                               std::atomic<std::int64_t>* upstreams) {
  auto opener = std::make_shared<http_upstream>(std::move(pc), std::move(runner), upstreams);
  return {sys.spawn(http_provider, opener), opener};
}

}  // namespace streamgate::test
