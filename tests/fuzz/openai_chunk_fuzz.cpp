// The hand-written chunk reader (providers/http/openai_chunk.cpp) against nlohmann::json,
// the parser it replaced: on valid UTF-8 it must accept exactly the JSON objects nlohmann
// accepts, and read the same values from them (documents with a duplicate key excepted:
// which one counts is not defined by RFC 8259), nested no deeper than max_chunk_depth. The
// reference is tests/support/openai_chunk_reference.hpp, shared with the unit tests. It must
// refuse any text with a NUL byte, which nlohmann's parser takes for the end of its input and
// so accepts after a value.
#include "providers/http/openai_chunk.hpp"
#include "tests/fuzz/fuzz_support.hpp"
#include "tests/support/openai_chunk_reference.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace streamgate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  if (!fuzz::valid_utf8(text)) return 0;  // the decoder repairs text before it gets here
  auto got = read_openai_chunk(text);
  if (text.find('\0') != std::string_view::npos) {
    // No JSON text holds a NUL byte; nlohmann's lexer takes one for the end of the input.
    SG_FUZZ_CHECK(!got);
    return 0;
  }
  auto difference = testing::check_against_reference(text, got);
  if (!difference.empty()) fuzz::property_failed(difference.c_str(), __FILE__, __LINE__);
  return 0;
}
