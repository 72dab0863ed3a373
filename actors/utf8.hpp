#pragma once

#include <cstddef>
#include <string_view>

namespace streamgate {

// The UTF-8 sequence that starts at s[i] (RFC 3629: no overlong form, surrogate or code point
// past U+10FFFF). Its length when valid (1 for ASCII); otherwise minus the length of its
// longest valid prefix, at least 1: the bytes one U+FFFD stands for where invalid text is
// replaced as nlohmann::json's dump() replaces it. Shared by the upstream side (reading and
// sanitising provider text) and the client side (escaping it).
int utf8_sequence(std::string_view s, std::size_t i);

}  // namespace streamgate
