// The upstream stream as the curl driver sees it: SSE bytes in reads cut anywhere, through
// the incremental parser and a stream decoder (openai or zhipu_legacy).
//
// Input: [flags][seed x4][max piece] then the body. flags bit 0: zhipu_legacy; bits 1-3:
// the event bound (32 << n bytes, n = 7: the production default).
//
// Properties: the body fed whole and fed in pieces gives the same events and the same
// bound verdict; the decoder emits at most one terminal event, last, and exactly one once
// the body has ended; every text it emits is valid UTF-8, every delta non-empty.
#include "providers/http/sse_parser.hpp"
#include "providers/http/stream_decoder.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace {

using namespace streamgate;

bool same(const sse_event& a, const sse_event& b) {
  return a.event == b.event && a.data == b.data && a.id == b.id && a.meta == b.meta;
}

struct parsed {
  std::vector<sse_event> events;
  bool ok = true;
};

parsed parse(const std::vector<std::string_view>& reads, std::size_t bound) {
  parsed out;
  sse_parser parser{bound};
  auto keep = [&](sse_event& ev) { out.events.push_back(ev); };
  for (auto r : reads) {
    out.ok = parser.feed(r, keep);
    if (!out.ok) return out;
  }
  parser.end(keep);
  return out;
}

void check_decoded(adapter_kind adapter, const parsed& p) {
  auto decoder = make_decoder(adapter);
  std::vector<stream_event> out;
  for (auto& ev : p.events) decoder->on_sse(ev, out);
  // A failed parser ends the transfer with upstream_response's own error instead.
  if (p.ok) decoder->on_end(out);
  std::size_t terminals = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto& ev = out[i];
    SG_FUZZ_CHECK(fuzz::valid_utf8(ev.text));
    if (ev.kind == event_kind::delta) {
      // A piece has text or something beyond it, and what it passes on is valid JSON.
      SG_FUZZ_CHECK(!ev.text.empty() || ev.fields);
      if (const auto* f = ev.fields.get()) {
        for (const auto* members : {&f->delta, &f->choice, &f->chunk})
          SG_FUZZ_CHECK(members->empty() || nlohmann::json::accept("{" + *members + "}"));
        SG_FUZZ_CHECK(fuzz::valid_utf8(f->delta) && fuzz::valid_utf8(f->chunk));
      }
      SG_FUZZ_CHECK(ev.choice <= 127);
    }
    if (ev.kind == event_kind::error) SG_FUZZ_CHECK(!ev.code.empty());
    if (ev.terminal()) {
      ++terminals;
      SG_FUZZ_CHECK(i + 1 == out.size());
    }
  }
  SG_FUZZ_CHECK(terminals <= 1);
  if (p.ok) SG_FUZZ_CHECK(terminals == 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in{data, size};
  auto flags = in.byte();
  auto seed = in.u32();
  auto max_piece = 1 + in.byte() % 64u;
  auto adapter = (flags & 1) != 0 ? adapter_kind::zhipu_legacy : adapter_kind::openai;
  auto shift = (flags >> 1) & 7u;
  std::size_t bound = shift == 7 ? std::size_t{1} << 20 : std::size_t{32} << shift;
  auto body = in.rest();

  auto whole = parse({body}, bound);
  auto pieces = parse(fuzz::split(body, seed, max_piece), bound);
  SG_FUZZ_CHECK(whole.ok == pieces.ok);
  SG_FUZZ_CHECK(whole.events.size() == pieces.events.size());
  for (std::size_t i = 0; i < whole.events.size(); ++i)
    SG_FUZZ_CHECK(same(whole.events[i], pieces.events[i]));
  check_decoded(adapter, whole);
  return 0;
}
