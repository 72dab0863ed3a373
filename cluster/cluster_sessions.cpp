#include "cluster/cluster_sessions.hpp"

#include "actors/session_service.hpp"

namespace streamgate {

void cluster_sessions::serve(session_service* service) {
  std::lock_guard<std::mutex> guard{mu_};
  service_ = service;
}

bool cluster_sessions::attach(const std::string& owner, const std::string& id, std::uint64_t after,
                              sink_ptr sink) {
  std::lock_guard<std::mutex> guard{mu_};
  return service_ && service_->attach_as(owner, id, after, std::move(sink));
}

void cluster_sessions::detach(const std::string& id, const sink_ptr& sink) {
  std::lock_guard<std::mutex> guard{mu_};
  if (service_) service_->detach(id, sink);
}

bool cluster_sessions::cancel(const std::string& owner, const std::string& id) {
  std::lock_guard<std::mutex> guard{mu_};
  return service_ && service_->cancel_as(owner, id);
}

void cluster_sessions::set_connected(const std::string& node, bool up) {
  std::lock_guard<std::mutex> guard{mu_};
  if (up)
    connected_.insert(node);
  else
    connected_.erase(node);
}

bool cluster_sessions::connected(const std::string& node) const {
  std::lock_guard<std::mutex> guard{mu_};
  return connected_.count(node) != 0;
}

}  // namespace streamgate
