// A client's HTTP bytes, parsed as the connection parses them (Beast's request_parser with
// the default limits), then routed by dispatch (transports/http/api_handler.cpp): the resume
// inputs (session ids in the path, ?after, Last-Event-ID, ?wait_ms) and every other route.
// Up to four pipelined requests per input.
//
// Properties: dispatch never throws; a response is a complete HTTP answer, a JSON one a
// JSON object; a session id is one path segment; a resume cursor is never below a valid
// Last-Event-ID; a long-poll wait is within its documented bound. With gateway keys
// required (access/): no session is started, read or cancelled without the key (the
// corpus' "Authorization: Bearer sk-fuzz-key-0123456789" is it), and CORS header lines are
// well formed.
#include "tests/fuzz/fuzz_support.hpp"
#include "transports/http/api_handler.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace {

using namespace streamgate;

// The engine as dispatch sees it: only models() and counts() are asked while routing.
class fake_service final : public session_service {
 public:
  std::vector<model_info> models() const override { return {{"mock", "streamgate"}}; }
  start_outcome start(chat_request, start_options) override { return {}; }
  bool attach(const std::string&, std::uint64_t, sink_ptr) override { return false; }
  void detach(const std::string&, const sink_ptr&) override {}
  bool cancel(const std::string&) override { return false; }
  engine_counts counts() const override { return {}; }
};

// A decimal that fits 64 bits, as a resume cursor must be.
std::optional<std::uint64_t> cursor(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

bool one_segment(const std::string& id) {
  return !id.empty() && id.find_first_of("/?") == std::string::npos;
}

void check(const http_request& req, const api_action& a, bool has_key) {
  using kind = api_action::kind;
  bool session_work = a.what == kind::chat_stream || a.what == kind::chat_complete ||
                      a.what == kind::session_create || a.what == kind::session_events ||
                      a.what == kind::session_cancel ||
                      (a.what == kind::websocket && a.ws_close == 0);
  if (session_work) SG_FUZZ_CHECK(has_key);
  switch (a.what) {
    case kind::respond: {
      auto status = a.response.result_int();
      SG_FUZZ_CHECK(status >= 200 && status < 600);
      if (a.response[http::field::content_type] == "application/json")
        SG_FUZZ_CHECK(nlohmann::json::parse(a.response.body(), nullptr, false).is_object());
      break;
    }
    case kind::session_events: {
      SG_FUZZ_CHECK(one_segment(a.session_id));
      SG_FUZZ_CHECK(a.wait_ms <= 60000);
      if (auto last = cursor(req["Last-Event-ID"])) SG_FUZZ_CHECK(a.after_seq >= *last);
      break;
    }
    case kind::session_cancel:
    case kind::admin_crash:
      SG_FUZZ_CHECK(one_segment(a.session_id));
      break;
    case kind::chat_stream:
    case kind::chat_complete:
    case kind::session_create:
      SG_FUZZ_CHECK(!a.request.model.empty());
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const http_options options = [] {
    http_options o;
    o.admin = true;  // route /admin/* too; nothing there acts during dispatch
    o.serves = http_options::role::both;
    gateway_key k;
    k.name = "fuzz";
    k.digest = sha256("sk-fuzz-key-0123456789");
    k.admin = true;
    o.access.keys = {k};
    o.access.cors_origins = {"https://app.example"};
    return o;
  }();
  static fake_service service;
  static access_control access{options.access, service};

  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  for (int i = 0; i < 4 && !bytes.empty(); ++i) {
    http::request_parser<http::string_body> parser;
    parser.eager(true);
    parser.body_limit(options.max_body_bytes);
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    boost::beast::error_code ec;
    auto used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec || !parser.is_done()) return 0;
    bytes.remove_prefix(used);
    auto req = parser.release();
    auto* caller = access.authenticate(credential_of(req));
    api_context ctx{service, options, [] { return std::string{"# metrics\n"}; }, &access, caller};
    check(req, dispatch(req, ctx), caller != nullptr);
    auto cors = cors_headers(req, options);
    SG_FUZZ_CHECK(cors.empty() || cors.substr(cors.size() - 2) == "\r\n");
  }
  return 0;
}
