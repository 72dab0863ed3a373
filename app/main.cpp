// The streamgate server: configuration, the engine, the client-facing server, a graceful
// shutdown on SIGINT/SIGTERM, and exit status 70 when the engine cannot recover (so that
// systemd or Kubernetes restarts the process instead of it serving while broken).

#include "app/config.hpp"
#include "cluster/cluster_setup.hpp"
#include "supervision/gateway.hpp"
#include "telemetry/log.hpp"
#include "transports/server/http_server.hpp"

#include <boost/asio/io_context.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include <unistd.h>

namespace {

using namespace streamgate;
using clock_type = std::chrono::steady_clock;

// EX_SOFTWARE (sysexits.h): an internal error the process cannot recover from.
constexpr int engine_down_status = 70;
// Set from a CAF thread, which may still run while serve() returns: not on serve()'s stack.
std::atomic<bool> engine_down{false};

// Polls `done` until it holds or `limit` passes; shutdown is the only place that waits.
template <class Pred>
bool wait_until(Pred done, std::chrono::milliseconds limit) {
  auto deadline = clock_type::now() + limit;
  while (!done()) {
    if (clock_type::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

int serve(const app_config& cfg) {
  // Block the signals in every thread; the main thread takes them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);  // the engine went down (sent by the process to itself)
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  caf::actor_system_config caf_cfg;
  caf_cfg.set("scheduler.max-threads", static_cast<size_t>(cfg.actor_threads));
  caf_cfg.set("logger.verbosity", caf::atom("quiet"));
  // An idle CAF worker spins briefly, then by default polls every 50 us for 25 ms before it
  // sleeps on its condition variable. Streams deliver a chunk every few tens of ms, so the
  // workers lived in that polling phase: half the gateway's CPU per stream went to nanosleep
  // wake-ups (perf, bench/). Skipping it keeps the short spin and lets them sleep.
  caf_cfg.set("work-stealing.moderate-poll-attempts", size_t{0});
  // A sleeping worker also wakes every 10 ms to look for work to steal: 200 wake-ups a second
  // on two idle workers, a third of the CPU of a lone stream. A worker is woken anyway when
  // work is handed to it from outside CAF (the curl driver, the I/O threads); stealing from a
  // busy peer only has to catch up within 100 ms.
  caf_cfg.set("work-stealing.relaxed-sleep-duration",
              caf::timespan{std::chrono::milliseconds(100)});
  configure_cluster(caf_cfg, cfg.gateway.cluster);
  caf::actor_system system{caf_cfg};

  // The I/O loops (one io_context and thread each) for client connections and, by default,
  // upstream transfers: a streamed chunk is read from the provider and written to its client
  // on its client's loop.
  auto io = make_io_loops(cfg.http.threads);
  auto gateway_cfg = cfg.gateway;
  if (cfg.http.upstream_on_io_threads) gateway_cfg.upstream_loops = io;
  gateway engine{system, gateway_cfg};
  http_server server{engine, cfg.http, &engine, io};
  server.start();
  // The operator's surface on a listener of its own (loopback by default), never on the
  // public one unless an admin key asks there (docs/security.md).
  std::unique_ptr<http_server> admin_server;
  http_options admin_http;
  if (admin_options(cfg, admin_http)) {
    admin_http.threads = 1;  // its own: stopping it must not stop the clients' io_context
    admin_server = std::make_unique<http_server>(engine, admin_http, &engine);
    admin_server->drop_clients_of(server);
    admin_server->start();
  }
  log::info("listening", {{"address", cfg.http.host + ":" + std::to_string(server.port())},
                          {"models", [&] {
                             nlohmann::json m = nlohmann::json::array();
                             for (auto& x : engine.models()) m.push_back(x.id);
                             return m;
                           }()}});
  std::cout << "streamgate listening on http://" << cfg.http.host << ":" << server.port()
            << std::endl;
  if (engine.cluster_port() != 0)
    std::cout << "streamgate cluster node " << cfg.gateway.cluster.node_id << " on "
              << cfg.gateway.cluster.listen_host << ":" << engine.cluster_port() << std::endl;
  if (admin_server) {
    log::info("admin_listening",
              {{"address", admin_http.host + ":" + std::to_string(admin_server->port())}});
    std::cout << "streamgate admin on http://" << admin_http.host << ":" << admin_server->port()
              << std::endl;
  }

  engine.on_engine_down([](const std::string&) {
    engine_down = true;
    kill(getpid(), SIGUSR1);
  });
  int sig = 0;
  do sigwait(&signals, &sig);
  while (sig == SIGUSR1 && !engine_down);  // a stray SIGUSR1 from outside is not ours
  if (engine_down) {
    // Nothing can be served any more: streams end as at shutdown, but at once.
    log::error("exiting", {{"reason", "engine_down"}, {"status", engine_down_status}});
    if (admin_server) admin_server->stop();
    server.stop_accepting();
    engine.shutdown();
    wait_until([&] { return server.streaming_connections() == 0; }, std::chrono::seconds(2));
    server.stop();
    return engine_down_status;
  }
  log::info("shutdown_started",
            {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}, {"drain_ms", cfg.drain.count()}});
  server.stop_accepting();
  bool drained = wait_until([&] { return engine.counts().active_sessions == 0; }, cfg.drain);
  if (!drained) {
    // Whatever still runs ends with an explicit server_shutting_down error.
    engine.shutdown();
    wait_until([&] { return engine.counts().active_sessions == 0; }, std::chrono::seconds(2));
  }
  engine.shutdown();
  wait_until([&] { return server.streaming_connections() == 0; }, std::chrono::seconds(2));
  server.stop();
  if (admin_server) admin_server->stop();
  log::info("shutdown_complete", {{"drained", drained}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace streamgate;
  cli_result cli;
  try {
    cli = parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const config_error& e) {
    std::cerr << "streamgate: configuration error: " << e.what() << "\n";
    return 2;
  }
  if (cli.help) {
    std::cout << usage_text();
    return 0;
  }
  log::init(cli.config.log_level, cli.config.log_file);
  try {
    return serve(cli.config);
  } catch (const std::exception& e) {
    log::error("fatal", {{"error", e.what()}});
    std::cerr << "streamgate: " << e.what() << "\n";
    return 1;
  }
}
