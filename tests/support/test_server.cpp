#include "tests/support/test_server.hpp"

#include "tests/support/http_client.hpp"
#include "tests/support/ws_client.hpp"
#include "transports/server/http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>

#include <nlohmann/json.hpp>

#include <future>
#include <sstream>
#include <thread>

namespace streamgate::test {

struct test_server::impl {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> system;
  std::unique_ptr<gateway> engine;
  std::unique_ptr<http_server> server;
};

http_options test_server::default_options() {
  http_options o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.threads = 1;
  // One port for the API and the operator's surface, so that tests read /metrics where they
  // stream; the split listeners of the program have tests of their own (access_test).
  o.serves = http_options::role::both;
  return o;
}

http_options test_server::admin_options() {
  auto o = default_options();
  o.admin = true;
  return o;
}

test_server::test_server(gateway_config gateway_cfg, http_options options)
    : impl_(std::make_unique<impl>()) {
  impl_->cfg.set("scheduler.max-threads", static_cast<size_t>(2));
  impl_->cfg.set("logger.verbosity", caf::atom("quiet"));
  impl_->system = std::make_unique<caf::actor_system>(impl_->cfg);
  // Wired as the streamgate program does (app/main.cpp).
  auto io = make_io_loops(options.threads);
  if (options.upstream_on_io_threads) gateway_cfg.upstream_loops = io;
  impl_->engine = std::make_unique<gateway>(*impl_->system, std::move(gateway_cfg));
  impl_->server =
      std::make_unique<http_server>(*impl_->engine, std::move(options), impl_->engine.get(), io);
  impl_->server->start();
}

test_server::~test_server() {
  impl_->server->stop();
  impl_->server.reset();
  impl_->engine.reset();
}

std::uint16_t test_server::port() const {
  return impl_->server->port();
}
gateway& test_server::engine() {
  return *impl_->engine;
}
http_server& test_server::server() {
  return *impl_->server;
}

std::map<std::string, nlohmann::json> providers_by_name(gateway& g) {
  std::promise<std::string> status;
  g.provider_status([&](std::string s) { status.set_value(std::move(s)); });
  std::map<std::string, nlohmann::json> out;
  auto all = nlohmann::json::parse(status.get_future().get());
  for (auto& item : all) out[item["name"].get<std::string>()] = item;
  return out;
}

double metric(std::uint16_t port, const std::string& series) {
  http_client c{port};
  std::istringstream in{c.request("GET", "/metrics").body};
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return 0;
}

std::string mock_body(bool stream, unsigned tokens, unsigned interval_ms, unsigned first_token_ms,
                      bool include_usage) {
  auto body = mock_request(tokens, interval_ms, first_token_ms);
  body["stream"] = stream;
  if (include_usage) body["stream_options"] = {{"include_usage", true}};
  return body.dump();
}

}  // namespace streamgate::test
