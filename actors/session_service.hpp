#pragma once

#include <streamgate/chat_request.hpp>
#include <streamgate/event_sink.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace streamgate {

struct model_info {
  std::string id;
  std::string owned_by;
};

struct start_outcome {
  std::string session_id;  // empty on refusal
  std::string error_code;  // set on refusal: model_not_found, too_many_sessions, ...
  std::string message;
  std::uint32_t retry_after_s = 0;  // a refusal by a rate: when to try again
  bool ok() const { return !session_id.empty(); }
};

// How a session is started, besides its request.
struct start_options {
  sink_ptr sink;                       // the first client; may be null: attach later
  const char* transport = "embedded";  // for logs and metrics: sse, ws, poll, http, embedded
  // Losing the last client cancels at once instead of waiting for the resume window (OpenAI
  // semantics for a closed /v1/chat/completions connection).
  bool cancel_on_detach = false;
  // Sees every event the session logs, in order, on the logging thread, and is let go when
  // the session is; not a client (it keeps no session alive, and its `deliver` result is
  // ignored). Per-key accounting (access/) counts tokens and ends with it.
  sink_ptr observer;
  // Who started it, as a tag the access layer chooses ("" for anyone): in a cluster, a
  // client resuming through another node must show the same tag (attach_as, cancel_as).
  std::string owner{};
};

// Counters the engine keeps so tests and operators can see that nothing leaks.
struct engine_counts {
  std::uint64_t active_sessions = 0;  // sessions whose stream has not ended yet
  std::uint64_t live_sessions = 0;    // including ended ones still kept for resume
  std::uint64_t active_upstreams = 0;
  // For /readyz: the engine runs, and how many providers it may route to now.
  bool engine_up = true;
  std::uint32_t routable_providers = 0;
};

// The narrow interface between transports and the engine. Transports never see an actor:
// they hand a validated request and a sink in, and events come back through the sink.
// Every call is thread-safe and non-blocking.
class session_service {
 public:
  virtual ~session_service() = default;

  virtual std::vector<model_info> models() const = 0;

  // Creates a session for `req`, as `opts` says.
  virtual start_outcome start(chat_request req, start_options opts) = 0;

  // Replays the events after `after_seq`, then streams live. False if the id is unknown.
  virtual bool attach(const std::string& session_id, std::uint64_t after_seq, sink_ptr sink) = 0;
  virtual void detach(const std::string& session_id, const sink_ptr& sink) = 0;
  virtual bool cancel(const std::string& session_id) = 0;

  // Cluster mode: whether the id names a session of another node, served from there.
  virtual bool remote(const std::string& session_id) const {
    (void)session_id;
    return false;
  }
  // attach and cancel for the client whose tag is `owner`; a session on another node checks
  // it against the tag it was started with (its own node's access layer checked it already).
  virtual bool attach_as(const std::string& owner, const std::string& session_id,
                         std::uint64_t after_seq, sink_ptr sink) {
    (void)owner;
    return attach(session_id, after_seq, std::move(sink));
  }
  virtual bool cancel_as(const std::string& owner, const std::string& session_id) {
    (void)owner;
    return cancel(session_id);
  }

  virtual engine_counts counts() const = 0;
};

}  // namespace streamgate
