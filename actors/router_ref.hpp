#pragma once

#include "actors/router_actor.hpp"

#include <memory>
#include <mutex>

namespace streamgate {

class route_table;

// The router's current handle, and the table it routes by. The engine replaces the handle
// when it restarts a crashed router; the gateway reads it for each new session and a session
// for each plan, so nobody keeps asking a dead router. With a table, a session reads its plan
// from the table itself and sends the router nothing. One short lock per read: a plan is asked
// for once per request.
class router_ref {
 public:
  router_ref() = default;
  explicit router_ref(router_actor r, std::shared_ptr<route_table> table = nullptr)
      : router_(std::move(r)), table_(std::move(table)) {}

  router_actor get() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return router_;
  }

  // Null: ask the router.
  std::shared_ptr<route_table> table() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return table_;
  }

  void set(router_actor r, std::shared_ptr<route_table> table = nullptr) {
    std::lock_guard<std::mutex> lock{mutex_};
    router_ = std::move(r);
    table_ = std::move(table);
  }

 private:
  mutable std::mutex mutex_;
  router_actor router_;
  std::shared_ptr<route_table> table_;
};

}  // namespace streamgate
