#pragma once

#include "actors/router_actor.hpp"

#include <mutex>

namespace streamgate {

// The router's current handle. The engine replaces it when it restarts a crashed router; the
// gateway reads it for each new session and a session for each plan it asks for, so nobody
// keeps asking a dead router. One short lock per read: a plan is asked for once per request.
class router_ref {
 public:
  router_ref() = default;
  explicit router_ref(router_actor r) : router_(std::move(r)) {}

  router_actor get() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return router_;
  }

  void set(router_actor r) {
    std::lock_guard<std::mutex> lock{mutex_};
    router_ = std::move(r);
  }

 private:
  mutable std::mutex mutex_;
  router_actor router_;
};

}  // namespace streamgate
