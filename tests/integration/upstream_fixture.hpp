#pragma once

// Shared by the upstream_*_test files: a real streamgate in-process whose HTTP provider
// points at a real fake upstream on an ephemeral loopback port, and a client that reads a
// whole OpenAI-style SSE answer the way a user's client would.

#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"
#include "tools/fake_upstream/fake_server.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace streamgate::test {

// What a client saw: the text, and exactly how the stream ended.
struct client_outcome {
  unsigned status = 0;        // HTTP status of the response
  std::string text;           // concatenated delta contents
  std::string finish_reason;  // set when the stream finished
  std::string error_code;     // set when it ended with an error (before or after 200)
  std::string error_message;
  std::string retry_after;  // the response's Retry-After header, if any
  int terminal_events = 0;  // finish + error events seen: must be exactly 1
  bool done = false;        // [DONE] seen
  std::string session;
};

// Where the gateway's curl driver runs: a thread of its own (the default), the server's I/O
// loop (http.upstream_on_io_threads), two drivers on two threads (upstream_threads), or one
// driver on each of two I/O loops, a transfer on its client's loop (http.threads: 2 too).
enum class driver_placement { own_thread, io_threads, two_threads, two_io_loops };
const char* to_string(driver_placement p);

class upstream_fixture {
 public:
  // `models` maps client model names to the fake upstream's model (with its @fault suffix).
  // `gateway_tweak` sees the whole configuration last (one provider "fake", one attempt).
  explicit upstream_fixture(const std::map<std::string, std::string>& models,
                            const std::function<void(http_provider_config&)>& tweak = {},
                            const std::function<void(gateway_config&)>& gateway_tweak = {},
                            driver_placement driver = driver_placement::own_thread);

  ~upstream_fixture();

  fake::fake_server& upstream() { return *fake_; }
  test_server& server() { return *server_; }
  // Stops and destroys the gateway, the fake upstream stays.
  void stop_server() { server_.reset(); }
  std::uint16_t port() { return server_->port(); }

  // One streamed chat request through SSE, read to the end.
  client_outcome stream(const std::string& model, const std::string& content = "Hello");

  // The fake upstream's GET /stats, over HTTP like any tool would read it.
  nlohmann::json upstream_stats();

  // Both sides idle again: no session, no upstream, no transfer, no fake-side stream.
  bool settled();

  static std::string chat_body(const std::string& model, const std::string& content = "Hello");

 private:
  std::unique_ptr<fake::fake_server> fake_;
  std::unique_ptr<test_server> server_;
};

// A loopback port that was free a moment ago (for servers that cannot report the port they
// bound, and for "nothing listens here").
std::uint16_t unused_loopback_port();

}  // namespace streamgate::test
