#pragma once

#include "actors/admin_service.hpp"
#include "actors/session_service.hpp"
#include "supervision/gateway_config.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <memory>

namespace streamgate {

// The engine as a C++ object: spawns the engine actor tree in a given actor system and
// implements the transports' session_service. An embedding CAF application creates one next
// to its own actors (docs/embedding.md).
class gateway final : public session_service, public admin_service {
 public:
  gateway(caf::actor_system& system, gateway_config config);
  ~gateway() override;

  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  std::vector<model_info> models() const override;
  start_outcome start(chat_request req, start_options opts) override;
  bool attach(const std::string& session_id, std::uint64_t after_seq, sink_ptr sink) override;
  void detach(const std::string& session_id, const sink_ptr& sink) override;
  bool cancel(const std::string& session_id) override;
  bool remote(const std::string& session_id) const override;
  bool attach_as(const std::string& owner, const std::string& session_id, std::uint64_t after_seq,
                 sink_ptr sink) override;
  bool cancel_as(const std::string& owner, const std::string& session_id) override;
  engine_counts counts() const override;

  void provider_status(std::function<void(std::string)> done) override;
  void crash(crash_target what, const std::string& name, std::function<void(bool)> done) override;

  // Refuses new sessions from now on and ends every running stream with
  // server_shutting_down.
  void shutdown();

  // Calls `tell(reason)`, once, on a CAF thread (or here, if it already happened), when the
  // engine stops on its own: its router or a quota pool crashed past its restart budget. The
  // gateway cannot serve after that; its owner should stop (the server exits non-zero).
  void on_engine_down(std::function<void(std::string)> tell);

  // Cluster mode: the port the node listens on for its peers (0: not in a cluster).
  std::uint16_t cluster_port() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace streamgate
