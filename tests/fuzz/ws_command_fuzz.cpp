// A WebSocket client's text message, through the command parser (transports/ws/ws_protocol.cpp).
//
// Properties: a refusal has a code and a message; a command that needs an id has one of
// 1 to max_stream_id bytes; a start carries an accepted chat request (non-empty model);
// every reply the server renders for the command (started, pong, error) is a JSON object.
#include "tests/fuzz/fuzz_support.hpp"
#include "transports/ws/ws_protocol.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

using namespace streamgate;
using json = nlohmann::json;
using kind = ws::command::kind;

bool is_object(const std::string& text) {
  return json::parse(text, nullptr, false).is_object();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  auto c = ws::parse_command(text);
  switch (c.what) {
    case kind::invalid:
      SG_FUZZ_CHECK(!c.error_code.empty() && !c.error_message.empty());
      SG_FUZZ_CHECK(c.id.size() <= ws::max_stream_id);
      SG_FUZZ_CHECK(is_object(ws::error(c.id, c.error_code, c.error_message)));
      return 0;
    case kind::ping:
      SG_FUZZ_CHECK(is_object(ws::pong(c.data)));
      return 0;
    case kind::start:
      SG_FUZZ_CHECK(!c.request.model.empty());
      SG_FUZZ_CHECK(is_object(ws::started(c.id, "session", c.request.model, false, 0)));
      break;
    case kind::resume:
      SG_FUZZ_CHECK(is_object(ws::started(c.id, c.session, {}, true, c.after)));
      break;
    case kind::cancel:
      break;
  }
  SG_FUZZ_CHECK(!c.id.empty() && c.id.size() <= ws::max_stream_id);
  return 0;
}
