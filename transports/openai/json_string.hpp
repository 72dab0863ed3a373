#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace streamgate {

// Appends `s` to `out` as a quoted JSON string, escaped exactly as nlohmann::json's dump()
// escapes it, without building a JSON value: a streamed token is rendered once per client
// and this is most of that work. Upstream text may hold invalid UTF-8; each invalid
// sequence becomes U+FFFD instead of failing the stream.
void append_json_string(std::string& out, std::string_view s);

// Appends `n` in decimal, without the temporary string std::to_string makes (per token: a
// sequence number in every event).
void append_decimal(std::string& out, std::uint64_t n);

}  // namespace streamgate
