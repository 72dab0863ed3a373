#pragma once

// The engine's contract with an embedding CAF application: the messages a gateway actor
// understands, and the ones it sends to the application's receiver actors. Declared once,
// as CAF's own examples declare their interfaces; docs/embedding.md walks through it.

#include <streamgate/chat_request.hpp>
#include <streamgate/event_sink.hpp>
#include <streamgate/stream_event.hpp>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace streamgate {

using start_atom = caf::atom_constant<caf::atom("sg_start")>;
using attach_atom = caf::atom_constant<caf::atom("sg_attach")>;
using detach_atom = caf::atom_constant<caf::atom("sg_detach")>;
using cancel_atom = caf::atom_constant<caf::atom("sg_cancel")>;
using status_atom = caf::atom_constant<caf::atom("sg_status")>;
using shutdown_atom = caf::atom_constant<caf::atom("sg_down")>;

// One event of one session, as a receiver actor gets it: the id says which stream, so one
// actor can consume many.
struct session_event {
  std::string session_id;
  stream_event event;
};

// The session no longer delivers to this receiver (it was replaced, or the session's resume
// window ran out before an attach arrived). Not sent after a terminal event: that one ends
// the stream for every receiver.
struct session_detached {
  std::string session_id;
  detach_reason reason = detach_reason::client_gone;
};

// What an application's actor must handle to receive streams. An actor with a larger
// interface converts to this one (typed_actor handles convert to a subset).
using event_receiver_actor =
    caf::typed_actor<caf::reacts_to<session_event>, caf::reacts_to<session_detached>>;

// The answer to a start: the new session's id, or a refusal with a stable code
// (model_not_found, too_many_sessions, server_shutting_down; docs/protocol.md lists them).
struct start_result {
  std::string session_id;  // empty on refusal
  std::string error_code;
  std::string message;
  bool ok() const { return !session_id.empty(); }
};

struct gateway_status {
  std::uint64_t active_sessions = 0;   // streams still running
  std::uint64_t live_sessions = 0;     // running, or ended and kept for resume
  std::uint64_t active_upstreams = 0;  // upstream requests in flight
  // Receiver actors with a stream still delivering to them; the gateway monitors them, and
  // detaches one that dies from its sessions.
  std::uint64_t receivers = 0;
  std::uint16_t http_port = 0;  // where serve_http listens; 0: not serving
  // The operator's listener (/metrics, /admin/*; docs/security.md); 0: none.
  std::uint16_t admin_port = 0;
  bool shutting_down = false;
  std::vector<std::string> models;  // the model names start accepts
};

// The gateway: sessions, routing, quota, failover, all behind these messages. Every request
// is answered at once; none waits for a stream.
using gateway_actor = caf::typed_actor<
    // Starts a session and streams its events to the receiver, from the first. The reply
    // reaches the requester before the first event reaches the receiver, so a requester that
    // is its own receiver knows the id before it sees an event carrying it.
    caf::replies_to<start_atom, chat_request, event_receiver_actor>::with<start_result>,
    // The same for a custom transport: events come to the sink's deliver (event_sink.hpp).
    caf::replies_to<start_atom, chat_request, sink_ptr>::with<start_result>,
    // Replays the session's events after `after_seq`, then streams live. False: no session
    // with that id (never started, or its resume window is over).
    caf::replies_to<attach_atom, std::string, std::uint64_t, event_receiver_actor>::with<bool>,
    caf::replies_to<attach_atom, std::string, std::uint64_t, sink_ptr>::with<bool>,
    // Stops delivering to the receiver; the session goes on and keeps its resume window.
    caf::reacts_to<detach_atom, std::string, event_receiver_actor>,
    caf::reacts_to<detach_atom, std::string, sink_ptr>,
    // Ends the stream with `cancelled` and closes its upstream request. False: no such id.
    caf::replies_to<cancel_atom, std::string>::with<bool>,
    caf::replies_to<status_atom>::with<gateway_status>,
    // Graceful stop: refuses new sessions, ends running streams with server_shutting_down,
    // and quits once they have ended (monitor the gateway to learn when).
    caf::reacts_to<shutdown_atom>>;

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, usage_info& x) {
  return f(caf::meta::type_name("streamgate::usage_info"), x.prompt_tokens, x.completion_tokens);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delta_fields& x) {
  return f(caf::meta::type_name("streamgate::delta_fields"), x.delta, x.choice, x.chunk,
           x.finish_reason);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stream_event& x) {
  // The shared fields by value: a copy out to save, a fresh shared object once loaded.
  auto fields = x.fields ? *x.fields : delta_fields{};
  bool has_fields = x.fields != nullptr;
  auto loaded = caf::meta::load_callback([&]() -> caf::error {
    x.fields = has_fields ? std::make_shared<const delta_fields>(std::move(fields)) : nullptr;
    return caf::none;
  });
  return f(caf::meta::type_name("streamgate::stream_event"), x.seq, x.kind, x.text, x.code, x.usage,
           x.retry_after_s, x.choice, has_fields, fields, loaded);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_event& x) {
  return f(caf::meta::type_name("streamgate::session_event"), x.session_id, x.event);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_detached& x) {
  return f(caf::meta::type_name("streamgate::session_detached"), x.session_id, x.reason);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, start_result& x) {
  return f(caf::meta::type_name("streamgate::start_result"), x.session_id, x.error_code, x.message);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, gateway_status& x) {
  return f(caf::meta::type_name("streamgate::gateway_status"), x.active_sessions, x.live_sessions,
           x.active_upstreams, x.receivers, x.http_port, x.admin_port, x.shutting_down, x.models);
}

}  // namespace streamgate

// Local messages only: a request carries its JSON body, a sink is a pointer.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(streamgate::chat_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(streamgate::sink_ptr)
