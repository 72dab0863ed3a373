#pragma once

// What the cluster node needs of its gateway's sessions. No CAF: the gateway and the node
// share it.

#include <streamgate/event_sink.hpp>

#include <cstdint>
#include <mutex>
#include <set>
#include <string>

namespace streamgate {

class session_service;

// This node's sessions, for peers' clients. The gateway detaches it before it goes, so a
// late message from a peer finds no service rather than a destroyed one.
class cluster_sessions {
 public:
  void serve(session_service* service);
  bool attach(const std::string& owner, const std::string& id, std::uint64_t after, sink_ptr sink);
  void detach(const std::string& id, const sink_ptr& sink);
  bool cancel(const std::string& owner, const std::string& id);

  // Peers connected now (the node writes it), for a synchronous "is that node there".
  void set_connected(const std::string& node, bool up);
  bool connected(const std::string& node) const;

 private:
  mutable std::mutex mu_;
  session_service* service_ = nullptr;
  std::set<std::string> connected_;
};

}  // namespace streamgate
