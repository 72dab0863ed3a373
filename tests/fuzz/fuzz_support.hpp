#pragma once

#include "actors/utf8.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

// What the harnesses share: property checks that crash (so libFuzzer and the corpus replay
// both report them), and the split of one input into the reads an incremental parser sees.
namespace streamgate::fuzz {

[[noreturn]] inline void property_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: property failed: %s\n", file, line, what);
  std::abort();
}

// An input as [control bytes][payload]: the harness takes the control bytes it needs first,
// so a seed is its control bytes followed by readable text.
class input {
 public:
  input(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  std::uint8_t byte() {
    if (rest_.empty()) return 0;
    auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | byte();
    return v;
  }
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
};

// `text` cut into pieces of 1 to `max_piece` bytes at points drawn from `seed`: where a
// read ends matters to an incremental parser (a line end, an escape or a frame header cut
// in two), and the fuzzer explores it by mutating the seed.
inline std::vector<std::string_view> split(std::string_view text, std::uint32_t seed,
                                           std::size_t max_piece) {
  std::vector<std::string_view> pieces;
  std::uint32_t x = seed | 1;
  while (!text.empty()) {
    x ^= x << 13;  // xorshift32: cheap, and the same pieces for the same seed everywhere
    x ^= x >> 17;
    x ^= x << 5;
    auto n = 1 + x % max_piece;
    if (n > text.size()) n = text.size();
    pieces.push_back(text.substr(0, n));
    text.remove_prefix(n);
  }
  return pieces;
}

inline bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto n = utf8_sequence(s, i);
    if (n <= 0) return false;
    i += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace streamgate::fuzz

#define SG_FUZZ_CHECK(cond) \
  ((cond) ? (void)0 : ::streamgate::fuzz::property_failed(#cond, __FILE__, __LINE__))
