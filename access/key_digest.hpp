#pragma once

#include <array>
#include <string>
#include <string_view>

namespace streamgate {

// A gateway key as the configuration holds it: its SHA-256, never the key itself.
using key_digest = std::array<unsigned char, 32>;

key_digest sha256(std::string_view text);

// 64 hexadecimal digits (either case) into `out`; false on anything else.
bool parse_hex_digest(std::string_view hex, key_digest& out);
std::string to_hex(const key_digest& d);

// Takes the same time whatever the contents: a caller learns nothing of a key from how long
// a wrong guess took.
bool digests_equal(const key_digest& a, const key_digest& b);

}  // namespace streamgate
