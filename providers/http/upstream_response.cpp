#include "providers/http/upstream_response.hpp"

#include "actors/error_code.hpp"
#include "actors/json_input.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <exception>
#include <memory>
#include <optional>

namespace streamgate {
namespace {

using json = nlohmann::json;

constexpr std::size_t max_error_body = 16 << 10;
constexpr std::size_t max_message = 400;
constexpr std::uint32_t max_retry_after_s = 3600;

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool is_success(long status) {
  return status >= 200 && status < 300;
}

// The key goes before the cut: a key across it would lose its last characters and no longer
// be found.
std::string shorten(std::string text, const secret& key) {
  text = key.scrub(std::move(text));
  if (text.size() > max_message) {
    text.resize(max_message);
    text += "...";
  }
  return sanitize_utf8(text);  // a cut may split a UTF-8 sequence; sanitize mends it
}

std::string dump_json_text(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// `"key":value` onto a raw member list (delta_fields); nulls are left out, as the stream
// decoder leaves them out.
void append_member(std::string& list, const std::string& key, const json& value) {
  if (value.is_null()) return;
  if (!list.empty()) list += ',';
  list += dump_json_text(json(key));
  list += ':';
  list += dump_json_text(value);
}

// One choice of a `chat.completion` as the one piece that would have streamed it, ending it.
// Its message's tool calls get the `index` each streamed fragment has. Nothing when the
// choice breaks OpenAI's shape.
std::optional<stream_event> answer_piece(const json& choice, std::size_t position,
                                         const std::string& chunk_members) {
  constexpr std::size_t max_choice_index = 127;
  if (!choice.is_object()) return std::nullopt;
  stream_event e;
  auto fields = std::make_shared<delta_fields>();
  fields->chunk = chunk_members;
  e.choice = static_cast<std::uint32_t>(position);
  for (auto& [key, value] : choice.items()) {
    if (key == "index") {
      if (!value.is_number_unsigned() || value.get<std::uint64_t>() > max_choice_index)
        return std::nullopt;
      e.choice = value.get<std::uint32_t>();
    } else if (key == "finish_reason") {
      if (value.is_string()) fields->finish_reason = value.get<std::string>();
    } else if (key != "message") {
      append_member(fields->choice, key, value);
    }
  }
  if (fields->finish_reason.empty()) fields->finish_reason = "stop";
  auto m = choice.find("message");
  if (m != choice.end() && !m->is_null()) {
    if (!m->is_object()) return std::nullopt;
    for (auto& [key, value] : m->items()) {
      if (key == "role") continue;
      if (key == "content" && value.is_string()) {
        e.text = value.get<std::string>();
      } else if (key == "tool_calls" && value.is_array()) {
        auto calls = value;
        for (std::size_t i = 0; i < calls.size(); ++i) {
          if (!calls[i].is_object()) return std::nullopt;
          if (!calls[i].contains("index")) calls[i]["index"] = i;
        }
        append_member(fields->delta, key, calls);
      } else {
        append_member(fields->delta, key, value);
      }
    }
  }
  e.fields = std::move(fields);
  return e;
}

}  // namespace

std::uint32_t parse_retry_after(std::string_view value, std::int64_t now_s) {
  value = trim(value);
  if (value.empty()) return 0;
  std::uint64_t secs = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), secs);
  if (ec == std::errc{} && p == value.data() + value.size())
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(secs, max_retry_after_s));
  // An HTTP-date, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
  std::tm tm{};
  std::string text{value};
  auto* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return 0;
  auto when = static_cast<std::int64_t>(timegm(&tm));
  if (when <= now_s) return 0;
  return static_cast<std::uint32_t>(std::min<std::int64_t>(when - now_s, max_retry_after_s));
}

std::string provider_message(std::string_view body, const secret& key) {
  auto in = parse_json_input(sanitize_utf8(body));
  if (in.outcome == json_input::status::too_deep)
    return too_deep_message("the provider's error body");
  const auto& j = in.value;
  if (in.ok() && j.is_object()) {
    const json* e = nullptr;
    if (auto it = j.find("error"); it != j.end()) e = &*it;
    if (e && e->is_string()) return shorten(e->get<std::string>(), key);
    for (const json* o : {e, static_cast<const json*>(&j)}) {
      if (o == nullptr || !o->is_object()) continue;
      for (const char* field : {"message", "msg", "detail"}) {
        auto m = o->find(field);
        if (m != o->end() && m->is_string()) return shorten(m->get<std::string>(), key);
      }
    }
  }
  return shorten(std::string{trim(body)}, key);
}

upstream_response::upstream_response(adapter_kind adapter, std::size_t max_body_bytes,
                                     std::size_t max_line_bytes, secret key)
    : decoder_(make_decoder(adapter)),
      parser_(max_line_bytes),
      max_body_(max_body_bytes),
      key_(std::move(key)) {}

void upstream_response::on_header(std::string_view line) {
  if (iequals_prefix(line, "HTTP/")) {
    // A new status line (after a 100 Continue, say) starts a new response head.
    auto sp = line.find(' ');
    long status = 0;
    if (sp != std::string_view::npos) {
      auto code = line.substr(sp + 1, 3);
      std::from_chars(code.data(), code.data() + code.size(), status);
    }
    status_ = status >= 100 && status < 200 ? 0 : status;
    retry_after_s_ = 0;
    json_body_ = false;
    return;
  }
  if (iequals_prefix(line, "content-type:"))
    json_body_ = iequals_prefix(trim(line.substr(13)), "application/json");
  if (iequals_prefix(line, "retry-after:"))
    retry_after_s_ =
        parse_retry_after(line.substr(12), static_cast<std::int64_t>(std::time(nullptr)));
}

bool upstream_response::on_body(std::string_view bytes, std::vector<stream_event>& out) {
  if (done_) return true;  // draining after the terminal event
  body_bytes_ += bytes.size();
  if (!is_success(status_)) {
    // Keep the start of an error body for its message; drop the rest.
    auto room = max_error_body - std::min(max_error_body, error_body_.size());
    error_body_.append(bytes.substr(0, room));
    return true;
  }
  if (body_bytes_ > max_body_) {
    emit_terminal(stream_event::make_error(
                      std::string{error_code::upstream_too_large},
                      "the provider's response exceeded " + std::to_string(max_body_) + " bytes"),
                  out);
    return false;
  }
  if (json_body_) {  // a whole JSON answer instead of a stream: decoded when complete
    error_body_.append(bytes);
    return true;
  }
  auto& events = decoded_;
  events.clear();
  bool ok = true;
  try {
    ok = parser_.feed(bytes, [&](sse_event& ev) { decoder_->on_sse(ev, events); });
  } catch (const std::exception&) {
    // The driver thread has no other guard: a decoding surprise costs this stream, never the
    // process.
    events.push_back(stream_event::make_error(std::string{error_code::upstream_malformed},
                                              "the provider's stream could not be decoded"));
  }
  pass_on(events, out);
  if (!ok && !done_) {
    emit_terminal(stream_event::make_error(std::string{error_code::upstream_too_large},
                                           "a line of the provider's stream exceeded the limit"),
                  out);
  }
  // A finish lets the body drain (connection reuse); an error ends the transfer now.
  return !failed_;
}

void upstream_response::on_complete(std::vector<stream_event>& out) {
  if (done_) return;
  if (status_ == 0) {
    emit_terminal(stream_event::make_error(std::string{error_code::upstream_malformed},
                                           "the provider's response had no status line"),
                  out);
    return;
  }
  if (!is_success(status_)) {
    emit_terminal(error_for_status(), out);
    return;
  }
  std::vector<stream_event> events;
  if (json_body_) {
    json_answer(events);
  } else {
    parser_.end([&](sse_event& ev) { decoder_->on_sse(ev, events); });
    decoder_->on_end(events);
  }
  pass_on(events, out);
}

void upstream_response::on_failure(std::string_view code, std::string message,
                                   std::vector<stream_event>& out) {
  if (done_) return;
  if (status_ != 0 && !is_success(status_)) {
    emit_terminal(error_for_status(), out);  // the status is the real cause
    return;
  }
  bool timeout = code == error_code::upstream_connect_timeout ||
                 code == error_code::upstream_first_byte_timeout ||
                 code == error_code::upstream_idle_timeout ||
                 code == error_code::upstream_request_timeout;
  if (status_ != 0 && !timeout) {
    emit_terminal(
        stream_event::make_error(std::string{error_code::upstream_interrupted},
                                 "the provider's connection broke mid-stream: " + message),
        out);
    return;
  }
  emit_terminal(stream_event::make_error(std::string{code}, std::move(message)), out);
}

// What a decoder produced: nothing after the first terminal event, which goes through
// emit_terminal (redaction, failed_).
void upstream_response::pass_on(std::vector<stream_event>& events, std::vector<stream_event>& out) {
  for (auto& ev : events) {
    if (ev.terminal())
      emit_terminal(std::move(ev), out);
    else if (!done_)
      out.push_back(std::move(ev));
  }
}

void upstream_response::emit_terminal(stream_event ev, std::vector<stream_event>& out) {
  if (done_) return;
  done_ = true;
  if (ev.kind == event_kind::error) {
    failed_ = true;
    ev.text = key_.scrub(std::move(ev.text));
  }
  out.push_back(std::move(ev));
}

// Some providers answer a streaming request with one JSON document: an error object (with
// status 200), or the whole completion when they ignore `stream: true`. Both are understood.
void upstream_response::json_answer(std::vector<stream_event>& out) const {
  namespace ec = error_code;
  auto in = parse_json_input(sanitize_utf8(error_body_));
  const auto& j = in.value;
  if (!in.ok() || !j.is_object()) {
    out.push_back(stream_event::make_error(
        std::string{ec::upstream_malformed},
        in.outcome == json_input::status::too_deep
            ? too_deep_message("the provider's JSON answer")
            : std::string{"the provider's JSON answer could not be parsed"}));
    return;
  }
  if (auto e = j.find("error"); e != j.end() && !e->is_null()) {
    out.push_back(stream_event::make_error(std::string{ec::upstream_error},
                                           provider_message(error_body_, key_)));
    return;
  }
  auto c = j.find("choices");
  if (c == j.end() || !c->is_array() || c->empty()) {
    out.push_back(stream_event::make_error(std::string{ec::upstream_malformed},
                                           "the provider's JSON answer has no choices"));
    return;
  }
  // The answer as the pieces a stream of it would have been: one per choice, ending it.
  std::string chunk_members;
  for (auto& [key, value] : j.items())
    if (key != "id" && key != "object" && key != "created" && key != "model" && key != "choices" &&
        key != "usage")
      append_member(chunk_members, key, value);
  std::string first_reason;
  for (std::size_t position = 0; position < c->size(); ++position) {
    const auto& choice = (*c)[position];
    auto piece = answer_piece(choice, position, chunk_members);
    if (!piece) {
      out.push_back(stream_event::make_error(std::string{ec::upstream_malformed},
                                             "the provider's JSON answer has a malformed choice"));
      return;
    }
    if (position == 0) first_reason = piece->fields->finish_reason;
    out.push_back(std::move(*piece));
  }
  if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
    auto usage = stream_event::make_usage(usage_of(*u));
    usage.text = dump_json_text(*u);
    out.push_back(std::move(usage));
  }
  out.push_back(stream_event::make_finish(first_reason));
}

stream_event upstream_response::error_for_status() const {
  namespace ec = error_code;
  auto status = std::to_string(status_);
  if (status_ == 401 || status_ == 403) {
    // Never the provider's own words here: some echo (part of) the key they were sent.
    return stream_event::make_error(
        std::string{ec::upstream_auth_failed},
        "the provider rejected the configured credentials (HTTP " + status + ")");
  }
  auto message = provider_message(error_body_, key_);
  if (message.empty()) message = "HTTP " + status;
  if (status_ == 429) {
    auto ev = stream_event::make_error(std::string{ec::upstream_rate_limited},
                                       "the provider is rate limiting: " + message);
    ev.retry_after_s = retry_after_s_;
    return ev;
  }
  if (status_ == 404)
    return stream_event::make_error(std::string{ec::upstream_model_not_found}, message);
  if (status_ >= 400 && status_ < 500 && status_ != 408)
    return stream_event::make_error(std::string{ec::upstream_bad_request}, message);
  return stream_event::make_error(std::string{ec::upstream_server_error},
                                  "the provider answered HTTP " + status + ": " + message);
}

}  // namespace streamgate
