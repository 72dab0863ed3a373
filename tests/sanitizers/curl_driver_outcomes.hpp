#pragma once

// What the curl driver tests' transfers delivered, written on the driver's threads and read on
// the test's, and the fake upstream's requests they start.

#include "providers/http/curl_driver.hpp"
#include "tools/fake_upstream/behaviour.hpp"

#include <streamgate/chat_request.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace streamgate::test {

struct outcomes {
  std::mutex mu;
  std::condition_variable changed;  // after every event
  std::vector<std::string> text;
  std::vector<int> terminals;
  std::vector<int> after_terminal;
  std::vector<event_kind> last;
  std::vector<std::thread::id> thread;  // that delivered the transfer's first event
  std::vector<int> other_threads;       // events delivered on another thread than the first
  int ended = 0;

  explicit outcomes(std::size_t n)
      : text(n), terminals(n), after_terminal(n), last(n), thread(n), other_threads(n) {}

  transfer_callback for_transfer(std::size_t i) {
    return [this, i](stream_event ev) {
      std::lock_guard<std::mutex> lock{mu};
      auto here = std::this_thread::get_id();
      if (thread[i] == std::thread::id{})
        thread[i] = here;
      else if (thread[i] != here)
        ++other_threads[i];
      if (terminals[i] > 0) ++after_terminal[i];
      if (ev.kind == event_kind::delta) text[i] += ev.text;
      if (ev.terminal()) {
        ++terminals[i];
        last[i] = ev.kind;
        ++ended;
      }
      changed.notify_all();
    };
  }

  // Waits until `done` (called under the lock) holds; false if it did not within `limit`.
  template <class Predicate>
  bool await(Predicate done, std::chrono::seconds limit = std::chrono::seconds(60)) {
    std::unique_lock<std::mutex> lock{mu};
    return changed.wait_for(lock, limit, done);
  }
};

// A streamed request to the fake upstream on `port` for `model` (its behaviour spec,
// docs/fake-upstream.md).
inline upstream_request fake_request(std::uint16_t port, const std::string& model) {
  http_provider_config cfg;
  cfg.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  auto req = std::get<chat_request>(parse_chat_request(
      R"({"model":")" + model + R"(","stream":true,"messages":[{"role":"user","content":"hi"}]})"));
  return build_request(cfg, req, 0);
}

}  // namespace streamgate::test
