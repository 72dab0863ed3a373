#pragma once

#include "tools/loadgen/options.hpp"
#include "tools/loadgen/summary.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace streamgate::loadgen {

// What every stream of a run shares, built once.
struct run_context {
  explicit run_context(const options& o);
  const options& opts;
  std::string chat_body;      // JSON chat request with stream: true
  std::string expected_text;  // --expect-text: the fake upstream's whole answer
  mutable std::atomic<std::uint64_t> next_index{0};  // each stream's draws are its own
};

// --keep-alive: one closed-loop slot's connection (stream_base.hpp), handed from each of its
// streams to the next. Empty at first, and again after a connection that cannot be reused.
struct kept_connection;
std::shared_ptr<kept_connection> make_kept_connection();

// Starts one stream on `ioc` over the run's protocol; `done` is called exactly once, on the
// I/O thread, with what it measured. Every wait is bounded by --timeout-s. With `keep`, the
// stream runs on the slot's connection when it has one and, when it ends with its connection
// fit for another request, leaves it there before `done` runs.
void start_stream(boost::asio::io_context& ioc, const run_context& ctx,
                  std::function<void(stream_result)> done,
                  std::shared_ptr<kept_connection> keep = nullptr);

// The WebSocket protocol's stream (ws_stream.cpp); start_stream picks it for --protocol ws.
void start_websocket_stream(boost::asio::io_context& ioc, const run_context& ctx,
                            std::function<void(stream_result)> done,
                            std::shared_ptr<kept_connection> keep);

// Idle mode: opens one connection (a WebSocket handshake for ws, a plain TCP connection
// otherwise) and keeps it open until `close_all` runs. `opened(ok)` reports the outcome.
class idle_pool {
 public:
  explicit idle_pool(boost::asio::io_context& ioc, const run_context& ctx);
  ~idle_pool();
  void open_one(std::function<void(bool)> opened);
  void close_all();

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

// Chat-completion SSE helpers, exposed for tests: whether a `data:` payload carries
// non-empty content, and the error code of an error payload (empty if it is not one).
bool sse_has_content(std::string_view payload);
// Whether a WebSocket or long-poll `delta` message is a token: text or more (reasoning, a tool
// call's fragment), not a choice's bare end.
bool message_has_output(const std::string& content, bool has_delta_members);
std::string sse_error_code(std::string_view payload);
// The `code` of an OpenAI error body `{"error":{"code":...}}`, empty when it has none.
std::string body_error_code(const std::string& body);

}  // namespace streamgate::loadgen
