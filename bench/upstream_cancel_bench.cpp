// Cancel → upstream socket closed, measured (not asserted): how long after a cancel the
// fake upstream sees its client go away. Two paths:
//   driver      curl_driver::cancel() → transfer removed → socket closed
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
#include "transports/http_server.hpp"

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

std::vector<double> bench_driver(fake::fake_server& fake, int iterations) {
  curl_driver driver;
  auto& aborts = fake.counters().client_aborts;
  std::vector<double> out;
  for (int i = 0; i < iterations; ++i) {
    http_provider_config cfg;
    cfg.base_url = "http://127.0.0.1:" + std::to_string(fake.port()) + "/v1";
    auto req = std::get<chat_request>(parse_chat_request(
        R"({"model":"fake@chunks=1000000,interval_ms=5","stream":true,"messages":[{"role":"user","content":"hi"}]})"));
    std::atomic<bool> got_token{false};
    auto id = driver.start(build_request(cfg, req, 0), [&](stream_event ev) {
      if (ev.kind == event_kind::delta) got_token = true;
    });
    if (!await([&] { return got_token.load(); })) {
      std::fprintf(stderr, "driver: no first token\n");
      std::exit(1);
    }
    auto before = aborts.load();
    auto t0 = clock_type::now();
    driver.cancel(id);
    if (!await([&] { return aborts.load() > before; })) {
      std::fprintf(stderr, "driver: the upstream never saw the cancel\n");
      std::exit(1);
    }
    if (i >= 10) out.push_back(since_ms(t0));  // the first few warm up caches
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
        if (!ev) {
          std::fprintf(stderr, "end-to-end: stream ended early\n");
          std::exit(1);
        }
        token = ev->data.find("\"content\":\"tok") != std::string::npos;
      }
      auto before = aborts.load();
      auto t0 = clock_type::now();
      c.close();
      if (!await([&] { return aborts.load() > before; })) {
        std::fprintf(stderr, "end-to-end: the upstream never saw the disconnect\n");
        std::exit(1);
      }
      if (i >= 10) out.push_back(since_ms(t0));
    }
    server.stop();
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
  report("driver", bench_driver(fake, iterations));
  report("end-to-end", bench_end_to_end(fake, iterations));
  fake.stop();
  return 0;
}
