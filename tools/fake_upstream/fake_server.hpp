#pragma once

#include "tools/fake_upstream/behaviour.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace streamgate::fake {

// Counters tests and benchmarks read from GET /stats. Relaxed atomics: no lock per chunk.
struct stats {
  std::atomic<std::uint64_t> requests_total{0};
  std::atomic<std::uint64_t> streams_started{0};
  std::atomic<std::uint64_t> streams_completed{0};
  std::atomic<std::uint64_t> client_aborts{0};  // clients gone before their response was complete
  std::atomic<std::uint64_t> bytes_sent{0};
  std::atomic<std::int64_t> active_streams{0};
  std::atomic<std::int64_t> peak_active_streams{0};
  std::atomic<std::int64_t> open_connections{0};
  std::atomic<std::int64_t> peak_open_connections{0};
  // Chat requests being answered (from the parsed request until the response is complete or
  // the client left), whether still in first_byte_ms, streaming or writing an error: what a
  // gateway's concurrency quota bounds, so chaos runs compare its peak with max_concurrent.
  std::atomic<std::int64_t> open_requests{0};
  std::atomic<std::int64_t> peak_open_requests{0};

  void stream_started();
  void stream_ended();
  void connection_opened();
  void connection_closed();
  void request_opened();
  void request_closed();
  void reset();
  std::string to_json() const;
};

struct server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  unsigned threads = 1;
  behaviour defaults;
  std::string require_key;  // empty: no auth
};

// An OpenAI-compatible streaming server with faults on demand (docs/fake-upstream.md).
class fake_server {
 public:
  explicit fake_server(server_options options);
  ~fake_server();
  void start();  // binds and runs its I/O threads; throws on a bad address
  std::uint16_t port() const;
  void stop();
  const stats& counters() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace streamgate::fake
