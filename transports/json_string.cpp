#include "transports/json_string.hpp"

#include <charconv>
#include <cstdint>

namespace streamgate {
namespace {

// The length of the valid UTF-8 sequence at s[i] (RFC 3629), or the length of its longest
// valid prefix as a negative number (at least -1): that many bytes become one U+FFFD.
int utf8_sequence(std::string_view s, std::size_t i) {
  auto b = static_cast<std::uint8_t>(s[i]);
  int n;
  std::uint8_t lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    if (b == 0xE0) lo = 0xA0;  // no overlong forms
    if (b == 0xED) hi = 0x9F;  // no surrogates
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    return -1;
  }
  for (int k = 1; k < n; ++k) {
    if (i + k >= s.size()) return -k;
    auto c = static_cast<std::uint8_t>(s[i + k]);
    if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return -k;
  }
  return n;
}

bool plain(std::uint8_t c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  std::size_t i = 0;
  while (i < s.size()) {
    auto start = i;
    while (i < s.size() && plain(static_cast<std::uint8_t>(s[i]))) ++i;
    out.append(s.data() + start, i - start);
    if (i == s.size()) break;
    auto c = static_cast<std::uint8_t>(s[i]);
    if (c >= 0x80) {
      int n = utf8_sequence(s, i);
      if (n > 0) {
        out.append(s.data() + i, static_cast<std::size_t>(n));
        i += static_cast<std::size_t>(n);
      } else {
        out += "\xEF\xBF\xBD";
        i += static_cast<std::size_t>(-n);
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xF];
    }
    ++i;
  }
  out += '"';
}

void append_decimal(std::string& out, std::uint64_t n) {
  char digits[20];
  auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  out.append(digits, static_cast<std::size_t>(end - digits));
}

}  // namespace streamgate
