#include "transports/http/event_response.hpp"

#include "actors/error_code.hpp"
#include "transports/openai/event_json.hpp"

#include <nlohmann/json.hpp>

#include <chrono>

namespace streamgate {

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void event_response::start(kind k, const std::string& session_id, std::string model,
                           bool include_usage, unsigned version, bool keep_alive,
                           std::uint64_t after_seq) {
  kind_ = k;
  session_id_ = session_id;
  version_ = version;
  keep_alive_ = keep_alive && !(k == kind::sse && version == 10);
  completion_ = {"chatcmpl-" + session_id, std::move(model), unix_now()};
  delta_head_ = k == kind::sse ? openai::delta_head(completion_, false) : std::string{};
  include_usage_ = include_usage;
  role_sent_.clear();
  headers_sent_ = done_ = false;
  pending_.clear();
  collected_.clear();
  poll_events_.clear();
  poll_has_events_ = poll_ended_ = false;
  poll_last_seq_ = after_seq;
}

std::optional<http_response> event_response::add(const stream_event& ev) {
  switch (kind_) {
    case kind::sse:
      return add_sse(ev);
    case kind::collect:
      return collect(ev);
    case kind::poll:
      add_poll(ev);
      return std::nullopt;
    case kind::none:
      break;
  }
  return std::nullopt;
}

std::string event_response::take_pending() {
  std::string out;
  out.swap(pending_);
  return out;
}

void event_response::keepalive() {
  write_headers_if_needed();
  append_chunk(": keep-alive\n\n");
}

void event_response::end_done() {
  write_headers_if_needed();
  std::string frame;
  openai::append_sse(frame, 0, "[DONE]");
  append_chunk(frame);
  end_body();
}

http_response event_response::poll_page() const {
  auto body = "{\"session\":" + nlohmann::json(session_id_).dump() + ",\"events\":[" +
              poll_events_ + "],\"last_seq\":" + std::to_string(poll_last_seq_) +
              ",\"done\":" + (poll_ended_ ? "true" : "false") + "}";
  return json_response(version_, keep_alive_, http::status::ok, std::move(body));
}

std::optional<http_response> event_response::add_sse(const stream_event& ev) {
  // An error before anything was sent gets a real HTTP status (404, 429, 502...).
  if (!headers_sent_ && ev.kind == event_kind::error) {
    done_ = true;
    return error_response(version_, keep_alive_, ev.code, ev.text, ev.retry_after_s);
  }
  write_headers_if_needed();
  // Reused: a token's frame costs no allocation once the first has sized it.
  auto& frame = frame_;
  frame.clear();
  switch (ev.kind) {
    case event_kind::delta: {
      openai::begin_sse(frame, ev.seq);
      bool with_role = take_role(ev.choice);
      if (ev.fields == nullptr && ev.choice == 0) {
        // Plain text, most pieces: the head made once per response. A view, since
        // `with_role ? delta_head(...) : delta_head_` would copy the head per token.
        std::string role_head;
        std::string_view head = delta_head_;
        if (with_role) head = role_head = openai::delta_head(completion_, true);
        openai::append_delta(frame, head, ev.text);
      } else {
        openai::append_piece(frame, completion_, ev, with_role);
      }
      openai::end_sse(frame);
      break;
    }
    case event_kind::usage:
      if (include_usage_) openai::append_sse(frame, ev.seq, openai::usage_chunk(completion_, ev));
      break;
    case event_kind::finish:
      openai::append_sse(frame, ev.seq, "[DONE]");
      break;
    case event_kind::error:
      openai::append_sse(frame, ev.seq, openai::error_body(ev.code, ev.text));
      break;
    case event_kind::cancelled:
      openai::append_sse(frame, ev.seq, openai::error_body(error_code::cancelled, ev.text));
      break;
    case event_kind::heartbeat:
      frame = ": heartbeat\n\n";
      break;
  }
  append_chunk(frame);
  // A rare huge event should not stay reserved for the rest of the connection's life.
  if (frame.capacity() > 64 * 1024) std::string{}.swap(frame);
  if (ev.terminal()) end_body();
  return std::nullopt;
}

std::optional<http_response> event_response::collect(const stream_event& ev) {
  switch (ev.kind) {
    case event_kind::delta:
    case event_kind::usage:
      collected_.add(ev);
      break;
    case event_kind::finish: {
      done_ = true;
      auto body = collected_.render(completion_, ev.text);
      collected_.clear();
      auto res = json_response(version_, keep_alive_, http::status::ok, std::move(body));
      res.set("X-Streamgate-Session", session_id_);
      return res;
    }
    case event_kind::error:
    case event_kind::cancelled: {
      done_ = true;
      auto code = ev.kind == event_kind::error ? std::string_view{ev.code} : error_code::cancelled;
      return error_response(version_, keep_alive_, code, ev.text, ev.retry_after_s);
    }
    case event_kind::heartbeat:
      break;
  }
  return std::nullopt;
}

void event_response::add_poll(const stream_event& ev) {
  if (!poll_events_.empty()) poll_events_ += ',';
  append_event_json(poll_events_, ev);
  poll_has_events_ = true;
  poll_last_seq_ = ev.seq;
  poll_ended_ = ev.terminal();
}

bool event_response::take_role(std::uint32_t choice) {
  if (choice >= role_sent_.size()) role_sent_.resize(choice + 1, false);
  if (role_sent_[choice]) return false;
  role_sent_[choice] = true;
  return true;
}

void event_response::write_headers_if_needed() {
  if (headers_sent_) return;
  headers_sent_ = true;
  std::string h = version_ == 10 ? "HTTP/1.0 200 OK\r\n" : "HTTP/1.1 200 OK\r\n";
  h += "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\n";
  if (version_ != 10) h += "Transfer-Encoding: chunked\r\n";
  h += extra_headers_;
  h += "X-Streamgate-Session: ";
  h += session_id_;
  h += keep_alive_ ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
  pending_.insert(0, h);
}

void event_response::append_chunk(std::string_view data) {
  if (data.empty()) return;
  if (version_ == 10) {
    pending_.append(data);
    return;
  }
  // The chunk size in hex, written by hand: snprintf cost more than the rest of the framing.
  char size[2 * sizeof(std::size_t) + 2];
  char* end = size + sizeof size;
  char* p = end;
  *--p = '\n';
  *--p = '\r';
  for (auto n = data.size(); n != 0; n >>= 4) *--p = "0123456789abcdef"[n & 0xF];
  pending_.append(p, static_cast<std::size_t>(end - p));
  pending_.append(data);
  pending_ += "\r\n";
}

void event_response::end_body() {
  done_ = true;
  if (version_ != 10) pending_ += "0\r\n\r\n";  // last chunk: the response is complete
}

}  // namespace streamgate
