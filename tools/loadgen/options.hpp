#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace streamgate::loadgen {

enum class protocol { sse, ws, poll };

struct endpoint {
  std::string host;  // numeric IPv4/IPv6 address
  std::uint16_t port = 0;
  std::string path;  // path prefix from the URL, without a trailing slash
};

// What one run does (see usage_text()).
struct options {
  protocol proto = protocol::sse;
  endpoint target;
  std::string model = "mock";
  std::string prompt = "Hello";
  std::string request_json;                // merged into each chat request body (a JSON object)
  unsigned concurrency = 1;                // closed loop: streams kept in flight
  double rate = 0;                         // open loop: new streams per second (0: closed loop)
  double ramp_s = 0;                       // closed loop: spread the first streams' starts
  unsigned requests = 1;                   // streams started in all
  double timeout_s = 30;                   // per stream
  double max_duration_s = 120;             // the whole run
  std::optional<unsigned> cancel_after;    // cancel each stream after k deltas
  std::optional<endpoint> upstream_stats;  // fake upstream's GET /stats, for cancel timing
  unsigned idle_connections = 0;           // idle mode: open this many sockets and hold them
  // Closed loop: each client slot reuses its connection for its next stream (HTTP/1.1
  // keep-alive, or the same WebSocket), as SDK clients do, instead of one per stream.
  bool keep_alive = false;
  double hold_s = 3;
  unsigned threads = 1;
  std::string json_file;
  bool allow_remote = false;
  // Chaos clients (docs/chaos.md). A resumable stream starts with POST /v1/sessions (SSE,
  // long-poll) or on a WebSocket, and resumes after the last seq it saw when its connection
  // is lost, at most max_resumes times.
  bool resume = false;
  unsigned max_resumes = 8;
  std::optional<std::pair<unsigned, unsigned>> disconnect_after;  // vanish once after k deltas
  double resume_delay_ms = 0;  // a resume waits a random time up to this
  double read_delay_ms = 0;    // slow reader: pause before every read, small socket buffer
  std::optional<std::pair<unsigned, unsigned>> expect_text;  // fake upstream's chunks, size
  std::uint64_t seed = 1;  // draws each stream's disconnect point and resume delays
};

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses "http://HOST:PORT[/prefix]" (HOST numeric, or localhost).
endpoint parse_url(const std::string& url);
options parse_options(const std::vector<std::string>& args);
std::string usage_text();
const char* to_string(protocol p);

}  // namespace streamgate::loadgen
