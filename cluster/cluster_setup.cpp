#include "cluster/cluster_setup.hpp"

#include "cluster/cluster_node.hpp"
#include "telemetry/log.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

namespace streamgate {

void configure_cluster(caf::actor_system_config& cfg, const cluster_options& options) {
  if (!options.enabled) return;
  if (options.tls.certificate.empty() || options.tls.key.empty() || options.tls.ca.empty())
    throw cluster_error(
        "cluster.tls: certificate, key and ca are required: the cluster port "
        "accepts only nodes whose certificate the cluster's CA signed");
  cfg.load<caf::io::middleman>();
  cfg.load<caf::openssl::manager>();
  cfg.openssl_certificate = options.tls.certificate;
  cfg.openssl_key = options.tls.key;
  cfg.openssl_cafile = options.tls.ca;
  // A peer whose connection dies without a FIN (a cable, not a kill) is noticed within
  // heartbeat + timeout; a killed process closes its sockets and is noticed at once.
  cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(500)});
  cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::milliseconds(3000)});
  cfg.add_message_type<quota_lease>("streamgate::quota_lease");
  cfg.add_message_type<quota_pool_actor>("streamgate::quota_pool_actor");
  cfg.add_message_type<cluster_node_actor>("streamgate::cluster_node_actor");
  cfg.add_message_type<wire_event>("streamgate::wire_event");
  cfg.add_message_type<relay_actor>("streamgate::relay_actor");
}

started_node start_cluster_node(caf::actor_system& system, const cluster_options& options,
                                std::map<std::string, quota_options> pools,
                                std::shared_ptr<cluster_sessions> sessions) {
  if (!system.has_openssl_manager())
    throw cluster_error("cluster mode needs configure_cluster() on the actor system's config");
  auto node = system.spawn(cluster_node, options, std::move(pools),
                           system.openssl_manager().actor_handle(), std::move(sessions));
  auto port = caf::openssl::publish(caf::actor_cast<cluster_node_actor>(node), options.listen_port,
                                    options.listen_host.c_str(), true);
  if (!port) {
    caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
    throw cluster_error("cluster.listen " + options.listen_host + ":" +
                        std::to_string(options.listen_port) + ": " + system.render(port.error()));
  }
  log::info("cluster_listening", {{"node", options.node_id},
                                  {"address", options.listen_host + ":" + std::to_string(*port)},
                                  {"peers", options.peers.size()}});
  return {node, *port};
}

}  // namespace streamgate
