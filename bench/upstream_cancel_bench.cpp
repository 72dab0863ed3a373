// Cancel → upstream socket closed, measured (not asserted): how long after a cancel the
// fake upstream sees its client go away. Two paths:
//   driver      curl_driver::cancel() → transfer removed → socket closed
//   burst       100 transfers cancelled at once: until the last socket is seen closed
//   end-to-end  an SSE client of a real in-process streamgate disconnects → session cancels
//               → upstream_stream → driver → socket closed
// The fake upstream runs in-process so its abort counter can be watched without polling
// /stats over HTTP (which would add its own latency). Prints p50/p90/p99/max in ms.
//
// usage: upstream_cancel_bench [iterations=300]

#include "providers/http/curl_driver.hpp"
#include "supervision/gateway.hpp"
#include "telemetry/log.hpp"
#include "tests/support/http_client.hpp"
#include "tools/fake_upstream/fake_server.hpp"
#include "transports/server/http_server.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace streamgate;
using clock_type = std::chrono::steady_clock;

// Spins (with a short yield) until `done` holds; returns false after 5 s.
template <class Pred>
bool await(Pred done) {
  auto deadline = clock_type::now() + std::chrono::seconds(5);
  while (!done()) {
    if (clock_type::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

void report(const char* what, std::vector<double> ms) {
  if (ms.empty()) return;
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) { return ms[std::min(ms.size() - 1, std::size_t(p * ms.size()))]; };
  std::printf("%-12s n=%zu  p50=%.3f ms  p90=%.3f ms  p99=%.3f ms  max=%.3f ms\n", what, ms.size(),
              pct(0.50), pct(0.90), pct(0.99), ms.back());
}

double since_ms(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

void fail(const char* why) {
  std::fprintf(stderr, "upstream_cancel_bench: %s\n", why);
  std::exit(1);
}

// Starts `n` endless streams on the driver and waits until each has delivered a token.
std::vector<transfer_id> start_streams(curl_driver& driver, std::uint16_t port, int n) {
  http_provider_config cfg;
  cfg.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  auto req = std::get<chat_request>(parse_chat_request(
      R"({"model":"fake@chunks=1000000,interval_ms=5","stream":true,"messages":[{"role":"user","content":"hi"}]})"));
  auto streaming = std::make_shared<std::atomic<int>>(0);
  std::vector<transfer_id> ids;
  for (int i = 0; i < n; ++i) {
    auto first = std::make_shared<std::atomic<bool>>(false);
    ids.push_back(driver.start(build_request(cfg, req, 0), [streaming, first](stream_event ev) {
      if (ev.kind == event_kind::delta && !first->exchange(true)) ++*streaming;
    }));
  }
  if (!await([&] { return streaming->load() == n; })) fail("streams did not start");
  return ids;
}

// Cancels `n` streams at once, `rounds` times: ms from the first cancel until the fake
// upstream has seen every socket close.
std::vector<double> bench_driver(fake::fake_server& fake, int n, int rounds) {
  curl_driver driver;
  auto& aborts = fake.counters().client_aborts;
  std::vector<double> out;
  for (int i = 0; i < rounds; ++i) {
    auto ids = start_streams(driver, fake.port(), n);
    auto before = aborts.load();
    auto t0 = clock_type::now();
    for (auto id : ids) driver.cancel(id);
    if (!await([&] { return aborts.load() >= before + static_cast<std::uint64_t>(n); }))
      fail("the upstream never saw the cancel");
    if (n > 1 || i >= 10) out.push_back(since_ms(t0));  // single: the first few warm up
  }
  return out;
}

std::vector<double> bench_end_to_end(fake::fake_server& fake, int iterations) {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", static_cast<size_t>(2));
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system system{cfg};
  gateway_config g;
  provider_entry p;
  p.name = "fake";
  p.kind = "custom";
  p.models = {"endless"};
  p.http.base_url = "http://127.0.0.1:" + std::to_string(fake.port()) + "/v1";
  p.http.models["endless"] = "fake@chunks=1000000,interval_ms=5";
  g.providers.push_back(p);
  // Ended sessions go away at once instead of staying readable for a resume.
  g.sessions.resume_window = std::chrono::milliseconds(1);
  std::vector<double> out;
  {
    gateway engine{system, g};
    http_options o;
    o.host = "127.0.0.1";
    o.port = 0;
    http_server server{engine, o, &engine};
    server.start();
    auto& aborts = fake.counters().client_aborts;
    const std::string body =
        R"({"model":"endless","stream":true,"messages":[{"role":"user","content":"hi"}]})";
    for (int i = 0; i < iterations; ++i) {
      test::http_client c{server.port()};
      c.open_stream("POST", "/v1/chat/completions", body);
      bool token = false;
      while (!token) {
        auto ev = c.next_event();
        if (!ev) fail("end-to-end: the stream ended early");
        token = ev->data.find("\"content\":\"tok") != std::string::npos;
      }
      auto before = aborts.load();
      auto t0 = clock_type::now();
      c.close();
      if (!await([&] { return aborts.load() > before; }))
        fail("end-to-end: the upstream never saw the disconnect");
      if (i >= 10) out.push_back(since_ms(t0));
    }
    server.stop();
    // Sessions clean up on CAF's threads; let them finish before the gateway goes.
    if (!await([&] { return engine.counts().live_sessions == 0; })) fail("sessions linger");
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::atoi(argv[1]) : 300;
  if (iterations < 20) iterations = 20;
  streamgate::log::set_level(streamgate::log::level::warn);  // no access line per iteration
  fake::fake_server fake{fake::server_options{}};
  fake.start();
  std::printf("cancel -> upstream socket closed (seen by the fake upstream), %d iterations\n",
              iterations);
  report("driver", bench_driver(fake, 1, iterations));
  report("burst of 100", bench_driver(fake, 100, 20));
  report("end-to-end", bench_end_to_end(fake, iterations));
  fake.stop();
  return 0;
}
