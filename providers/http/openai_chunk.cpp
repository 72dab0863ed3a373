#include "providers/http/openai_chunk.hpp"

#include "actors/utf8.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <initializer_list>

namespace streamgate {
namespace {

// The keys (and array positions) that lead to a value we act on; everything else is `other`.
enum class step : std::uint8_t {
  other,
  element,  // any element of an array
  error,
  message,
  choices,
  delta,
  content,
  finish_reason,
  usage,
  prompt_tokens,
  completion_tokens,
  index,
  role,
  id,
  object,
  created,
  model,
  tool_calls,
  function,
  name,
  arguments,
  type,
};

step step_of(std::string_view key) {
  // By first letter: every key of every chunk comes through here.
  auto is = [&](std::string_view name, step s) { return key == name ? s : step::other; };
  switch (key.empty() ? '\0' : key[0]) {
    case 'a':
      return is("arguments", step::arguments);
    case 'c':
      if (key == "choices") return step::choices;
      if (key == "content") return step::content;
      if (key == "created") return step::created;
      return is("completion_tokens", step::completion_tokens);
    case 'd':
      return is("delta", step::delta);
    case 'e':
      return is("error", step::error);
    case 'f':
      return key.size() == 8 ? is("function", step::function)
                             : is("finish_reason", step::finish_reason);
    case 'i':
      return key.size() == 2 ? is("id", step::id) : is("index", step::index);
    case 'm':
      return key.size() == 5 ? is("model", step::model) : is("message", step::message);
    case 'n':
      return is("name", step::name);
    case 'o':
      return is("object", step::object);
    case 'p':
      return is("prompt_tokens", step::prompt_tokens);
    case 'r':
      return is("role", step::role);
    case 't':
      return key.size() == 4 ? is("type", step::type) : is("tool_calls", step::tool_calls);
    case 'u':
      return is("usage", step::usage);
    default:
      return step::other;
  }
}

bool is_ws(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

// String bytes that need no check but this one: printable ASCII other than the quote and
// the backslash.
constexpr std::array<bool, 256> plain_ascii = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
  return t;
}();

// OpenAI allows n up to 128; a larger index would only make every renderer keep state for
// choices that cannot exist.
constexpr std::uint64_t max_choice_index = 127;
constexpr std::uint64_t max_tool_call_index = 1023;

void append_member(std::string& list, std::string_view member) {
  if (!list.empty()) list += ',';
  list.append(member);
}

// One pass over the chunk: it checks the whole text is one valid JSON object (RFC 8259,
// strings valid UTF-8), keeps the values whose path is one we act on, and the raw text of
// every other member of the chunk, of each choice and of each delta. The path of each value
// is tracked as steps from the root; only the first levels can matter, so deeper ones keep
// just their container kind. No JSON tree, and no copy of a string without escapes unless it
// is kept.
class chunk_reader {
 public:
  chunk_reader(std::string_view in, openai_chunk& out)
      : p_(in.data()), end_(in.data() + in.size()), chunk_(out) {
    chunk_.error = false;
    chunk_.error_message.clear();
    // Choices are reused, not rebuilt: most chunks have one, and re-creating it per chunk
    // cost a fifth of a chunk's reading (bench_sse_parser: openai_decode_chunk).
    chunk_.chunk_members.clear();
    chunk_.usage.reset();
    chunk_.usage_json.clear();
    chunk_.malformed = nullptr;
  }

  [[gnu::flatten]] bool read() {
    literal("\xEF\xBB\xBF");  // a byte order mark may lead (as nlohmann's parser allowed)
    skip_ws();
    if (p_ == end_ || *p_ != '{') return false;  // the root must be an object
    ++p_;
    push(false);
    auto next = expect::key_or_end;
    while (!kinds_.empty()) {
      skip_ws();
      if (p_ == end_) return false;
      char c = *p_;
      switch (next) {
        case expect::key_or_end:
        case expect::value_or_end: {
          bool in_object = next == expect::key_or_end;
          if (c == (in_object ? '}' : ']')) {  // an empty container
            ++p_;
            close();
            next = expect::comma_or_end;
          } else {
            next = in_object ? expect::key : expect::value;
          }
          break;
        }
        case expect::key: {
          const char* member = p_;
          std::string_view k;
          if (c != '"' || !string(k)) return false;
          if (depth() <= tracked) {
            auto& l = levels_[depth() - 1];
            l.key = step_of(k);
            l.member = member;
          }
          skip_ws();
          if (p_ == end_ || *p_ != ':') return false;
          ++p_;
          next = expect::value;
          break;
        }
        case expect::value:
          if (!value(c, next)) return false;
          break;
        case expect::comma_or_end:
          if (c == ',') {
            ++p_;
            next = kinds_.back() == '[' ? expect::value : expect::key;
          } else if (c == (kinds_.back() == '[' ? ']' : '}')) {
            ++p_;
            close();
          } else {
            return false;
          }
          break;
      }
    }
    skip_ws();
    chunk_.choices.resize(choices_);
    return p_ == end_;  // one object, nothing after it
  }

 private:
  enum class expect { key_or_end, key, value_or_end, value, comma_or_end };

  // Levels 1..tracked keep their path; the longest path we act on (a tool call's function
  // name) is 7 deep.
  static constexpr std::size_t tracked = 8;
  // Set whole by push(): no initializers, so that a reader per chunk does not clear them all.
  struct level {
    step key;                // objects: the key of the member being read
    step self;               // this container's own step from its parent
    std::uint32_t elements;  // arrays: elements begun
    bool saw_index;          // a tool call: it had its index
    const char* member;      // objects: where the member being read begins (its key)
    const char* value;       // where the value being read begins
  };

  std::size_t depth() const { return kinds_.size(); }

  // The step of the value that starts now, taken from its parent.
  step next_step() {
    if (depth() > tracked) return step::other;
    auto& parent = levels_[depth() - 1];
    if (kinds_.back() != '[') return parent.key;
    ++parent.elements;
    return step::element;
  }

  // Whether the innermost open container sits at `path` from the root.
  bool inside(std::initializer_list<step> path) const {
    if (depth() != path.size() + 1) return false;
    auto w = path.begin();
    for (std::size_t d = 1; d < depth(); ++d, ++w)
      if (levels_[d].self != *w) return false;
    return true;
  }

  openai_choice& choice() { return chunk_.choices[choices_ - 1]; }

  void malformed(const char* what) {
    if (chunk_.malformed == nullptr) chunk_.malformed = what;
  }

  bool push(bool array, step self = step::other) {
    if (depth() >= max_chunk_depth) return false;
    kinds_.push_back(array ? '[' : '{');
    if (depth() <= tracked) levels_[depth() - 1] = level{step::other, self, 0, false, nullptr, p_};
    return true;
  }

  // The container at depth() ended; p_ is past its closing bracket.
  void close() {
    if (depth() == 6 && kinds_.back() == '{' && !levels_[5].saw_index &&
        inside({step::choices, step::element, step::delta, step::tool_calls, step::element}))
      malformed("a tool call without an index");
    kinds_.resize(kinds_.size() - 1);  // inline, where pop_back is an erase call
    if (!kinds_.empty()) member_end(false);
  }

  // A value ended in the container at depth(); for an object member, keep its raw text when
  // it is one we pass on.
  void member_end(bool null) {
    if (null || depth() > 4 || kinds_.back() != '{') return;
    auto& l = levels_[depth() - 1];
    std::string_view member{l.member, static_cast<std::size_t>(p_ - l.member)};
    switch (depth()) {
      case 1:
        switch (l.key) {
          case step::usage:
            if (*l.value == '{') chunk_.usage_json.assign(l.value, p_);
            return;
          case step::id:
          case step::object:
          case step::created:
          case step::model:
          case step::choices:
          case step::error:
            return;
          default:
            append_member(chunk_.chunk_members, member);
            return;
        }
      case 3:
        if (!inside({step::choices, step::element})) return;
        if (l.key == step::index || l.key == step::delta || l.key == step::finish_reason) return;
        append_member(choice().choice_members, member);
        return;
      case 4:
        if (!inside({step::choices, step::element, step::delta})) return;
        if (l.key == step::role || (l.key == step::content && *l.value == '"')) return;
        append_member(choice().delta_members, member);
        return;
      default:
        return;
    }
  }

  // What OpenAI's shape requires of the value starting with `c` at `own`, where we rely on it.
  // By step first: most values (id, model, content...) leave at once.
  void check_shape(step own, char c) {
    switch (own) {
      case step::element:
        if (depth() == 2 && inside({step::choices})) {
          if (c != '{') return malformed("a choice that is not an object");
          if (choices_ == chunk_.choices.size()) chunk_.choices.emplace_back();
          auto& next = chunk_.choices[choices_++];
          next.index = levels_[1].elements - 1;
          next.content.clear();
          next.finish_reason.clear();
          next.delta_members.clear();
          next.choice_members.clear();
        } else if (depth() == 5 && c != '{' &&
                   inside({step::choices, step::element, step::delta, step::tool_calls})) {
          malformed("a tool call that is not an object");
        }
        return;
      case step::delta:
        if (depth() == 3 && c != '{' && c != 'n' && inside({step::choices, step::element}))
          malformed("a delta that is not an object");
        return;
      case step::tool_calls:
        if (depth() == 4 && c != '[' && c != 'n' &&
            inside({step::choices, step::element, step::delta}))
          malformed("tool_calls that is not an array");
        return;
      case step::id:
      case step::type:
      case step::function:
        if (depth() != 6 ||
            !inside({step::choices, step::element, step::delta, step::tool_calls, step::element}))
          return;
        if (own != step::function && c != '"' && c != 'n')
          malformed("a tool call's id or type that is not a string");
        if (own == step::function && c != '{' && c != 'n')
          malformed("a tool call's function that is not an object");
        return;
      case step::name:
      case step::arguments:
        if (depth() == 7 && c != '"' && c != 'n' &&
            inside({step::choices, step::element, step::delta, step::tool_calls, step::element,
                    step::function}))
          malformed("a tool call's function name or arguments that is not a string");
        return;
      default:
        return;
    }
  }

  // A number at `own`; `is_count`: a non-negative integer part `n`.
  void number_at(step own, bool is_count, std::uint64_t n) {
    switch (depth()) {
      case 2:
        if (own == step::prompt_tokens || own == step::completion_tokens) {
          if (!is_count || !inside({step::usage})) return;
          auto v = static_cast<std::uint32_t>(std::min<std::uint64_t>(n, UINT32_MAX));
          (own == step::prompt_tokens ? chunk_.usage->prompt_tokens
                                      : chunk_.usage->completion_tokens) = v;
        }
        return;
      case 3:
        if (own != step::index || !inside({step::choices, step::element})) return;
        if (!is_count || n > max_choice_index)
          return malformed("a choice index that is not an integer from 0 to 127");
        choice().index = static_cast<std::uint32_t>(n);
        return;
      case 6:
        if (own != step::index ||
            !inside({step::choices, step::element, step::delta, step::tool_calls, step::element}))
          return;
        if (!is_count || n > max_tool_call_index)
          return malformed("a tool call index that is not an integer from 0 to 1023");
        levels_[5].saw_index = true;
        return;
      default:
        return;
    }
  }

  bool value(char c, expect& next) {
    auto own = next_step();
    if (depth() <= tracked) levels_[depth() - 1].value = p_;
    check_shape(own, c);
    if (c == '{' || c == '[') {
      // Anything but null under `error` is an error, objects and arrays included.
      if (depth() == 1 && own == step::error) chunk_.error = true;
      if (c == '{' && depth() == 1 && own == step::usage) chunk_.usage = usage_info{};
      ++p_;
      if (!push(c == '[', own)) return false;
      next = c == '[' ? expect::value_or_end : expect::key_or_end;
      return true;
    }
    next = expect::comma_or_end;
    if (c == '"') {
      std::string_view v;
      if (!string(v)) return false;
      switch (own) {  // by step first: most strings are none of these
        case step::error:
          if (depth() == 1) {
            chunk_.error = true;
            chunk_.error_message = v;
          }
          break;
        case step::message:
          if (at(own, {step::error, step::message})) chunk_.error_message = v;
          break;
        case step::content:
          if (at(own, {step::choices, step::element, step::delta, step::content}))
            choice().content.assign(v);
          break;
        case step::finish_reason:
          if (at(own, {step::choices, step::element, step::finish_reason}))
            choice().finish_reason.assign(v);
          break;
        default:
          break;
      }
      member_end(false);
      return true;
    }
    if (c == 'n') {  // a null `error` or `finish_reason` means none; null members are left out
      if (!literal("null")) return false;
      member_end(true);
      return true;
    }
    bool is_count = false;
    std::uint64_t n = 0;
    if (c == 't' || c == 'f') {
      if (!literal(c == 't' ? "true" : "false")) return false;
    } else if (!number(n, is_count)) {
      return false;
    } else {
      number_at(own, is_count, n);
    }
    if (depth() == 1 && own == step::error) chunk_.error = true;
    member_end(false);
    return true;
  }

  // Whether the value starting now, with step `own`, sits at `want` from the root.
  bool at(step own, std::initializer_list<step> want) const {
    if (depth() != want.size()) return false;
    auto w = want.begin();
    for (std::size_t d = 1; d < depth(); ++d, ++w)
      if (levels_[d].self != *w) return false;
    return own == *w;
  }

  void skip_ws() {
    while (p_ != end_ && is_ws(*p_)) ++p_;
  }

  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() ||
        std::string_view{p_, word.size()} != word)
      return false;
    p_ += word.size();
    return true;
  }

  // A JSON number. `is_count`: it is not negative (-0 counts as 0), and `n` is its integer
  // part, saturated.
  bool number(std::uint64_t& n, bool& is_count) {
    const char* start = p_;
    bool negative = p_ != end_ && *p_ == '-';
    if (negative) ++p_;
    auto digits = [&] {
      const char* d = p_;
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
      return p_ - d;
    };
    const char* int_start = p_;
    auto int_len = digits();
    if (int_len == 0 || (int_len > 1 && *int_start == '0')) return false;
    bool is_float = false;
    if (p_ != end_ && *p_ == '.') {
      ++p_;
      if (digits() == 0) return false;
      is_float = true;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (digits() == 0) return false;
      is_float = true;
    }
    if (!is_float) {
      auto [ptr, ec] = std::from_chars(int_start, p_, n);
      if (ec == std::errc{}) {
        is_count = !negative || n == 0;
        return true;
      }
      // Past 64 bits: a double, like any number with a fraction or an exponent.
    }
    double v = 0;
    auto [ptr, ec] = std::from_chars(start, p_, v);
    if (ec == std::errc::result_out_of_range) {
      // Past a double's range: an underflow reads as 0; an overflow is refused, as
      // nlohmann's parser refuses a number that is not finite.
      if (decimal_exponent(int_start, p_) > 0) return false;
      v = 0.0;
    }
    is_count = !(v < 0);
    n = v >= 18446744073709551615.0 ? UINT64_MAX : static_cast<std::uint64_t>(std::max(v, 0.0));
    return true;
  }

  // Where a valid JSON number's first significant digit sits, as a power of ten (roughly:
  // only its sign is used, for numbers that a double cannot hold).
  static long decimal_exponent(const char* digits, const char* end) {
    long at = 0;
    const char* p = digits;
    while (p != end && *p == '0') ++p;
    if (p != end && *p >= '1' && *p <= '9') {
      while (p != end && *p >= '0' && *p <= '9') ++p, ++at;
    } else if (p != end && *p == '.') {
      ++p;
      while (p != end && *p == '0') ++p, --at;
    }
    while (p != end && *p != 'e' && *p != 'E') ++p;
    if (p == end) return at;
    ++p;
    bool negative = *p == '-';
    if (*p == '-' || *p == '+') ++p;
    long e = 0;
    for (; p != end; ++p) e = std::min(e * 10 + (*p - '0'), 100000000L);
    return negative ? at - e : at + e;
  }

  // A JSON string at p_ (on its opening quote). `out` views the input when the string has
  // no escapes, else scratch_; either stays valid until the next string.
  bool string(std::string_view& out) {
    const char* start = ++p_;
    while (p_ != end_) {
      skip_plain_ascii();
      if (p_ == end_) break;
      auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out = {start, static_cast<std::size_t>(p_ - start)};
        ++p_;
        return true;
      }
      if (c == '\\') break;
      if (!plain_char()) return false;
    }
    scratch_.assign(start, p_);
    while (p_ != end_) {
      auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out = scratch_;
        ++p_;
        return true;
      }
      if (c != '\\') {
        const char* from = p_;
        if (!plain_char()) return false;
        skip_plain_ascii();
        scratch_.append(from, p_);
        continue;
      }
      if (!escape()) return false;
    }
    return false;  // unterminated
  }

  // Most of a chunk is such bytes: one lookup each instead of a chain of tests.
  void skip_plain_ascii() {
    const char* p = p_;
    while (p != end_ && plain_ascii[static_cast<unsigned char>(*p)]) ++p;
    p_ = p;
  }

  // One unescaped character of a string: no control character, valid UTF-8.
  bool plain_char() {
    auto c = static_cast<unsigned char>(*p_);
    if (c < 0x20) return false;
    if (c < 0x80) {
      ++p_;
      return true;
    }
    auto n = utf8_sequence({p_, static_cast<std::size_t>(end_ - p_)}, 0);
    if (n <= 0) return false;
    p_ += n;
    return true;
  }

  bool hex4(std::uint32_t& out) {
    if (end_ - p_ < 4) return false;
    out = 0;
    for (int i = 0; i < 4; ++i, ++p_) {
      char c = *p_;
      std::uint32_t d = c >= '0' && c <= '9'   ? static_cast<std::uint32_t>(c - '0')
                        : c >= 'a' && c <= 'f' ? static_cast<std::uint32_t>(c - 'a' + 10)
                        : c >= 'A' && c <= 'F' ? static_cast<std::uint32_t>(c - 'A' + 10)
                                               : 16;
      if (d == 16) return false;
      out = out * 16 + d;
    }
    return true;
  }

  // An escape at p_ (on its backslash), decoded onto scratch_.
  bool escape() {
    if (end_ - p_ < 2) return false;
    char e = p_[1];
    p_ += 2;
    switch (e) {
      case '"':
      case '\\':
      case '/':
        scratch_ += e;
        return true;
      case 'b':
        scratch_ += '\b';
        return true;
      case 'f':
        scratch_ += '\f';
        return true;
      case 'n':
        scratch_ += '\n';
        return true;
      case 'r':
        scratch_ += '\r';
        return true;
      case 't':
        scratch_ += '\t';
        return true;
      case 'u':
        break;
      default:
        return false;
    }
    std::uint32_t cp = 0;
    if (!hex4(cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate alone
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      // A high surrogate must be followed by a low one: together they are one code point.
      std::uint32_t low = 0;
      if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
      p_ += 2;
      if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(cp);
    return true;
  }

  void append_utf8(std::uint32_t cp) {
    auto put = [this](std::uint32_t b) { scratch_ += static_cast<char>(b); };
    if (cp < 0x80) {
      put(cp);
    } else if (cp < 0x800) {
      put(0xC0 | (cp >> 6));
      put(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      put(0xE0 | (cp >> 12));
      put(0x80 | ((cp >> 6) & 0x3F));
      put(0x80 | (cp & 0x3F));
    } else {
      put(0xF0 | (cp >> 18));
      put(0x80 | ((cp >> 12) & 0x3F));
      put(0x80 | ((cp >> 6) & 0x3F));
      put(0x80 | (cp & 0x3F));
    }
  }

  const char* p_;
  const char* end_;
  openai_chunk& chunk_;
  std::size_t choices_ = 0;  // of chunk_.choices, read in this chunk
  std::string kinds_;        // the open containers, '{' or '[': short strings need no allocation
  std::array<level, tracked> levels_;
  std::string scratch_;
};

}  // namespace

bool read_openai_chunk(std::string_view data, openai_chunk& out) {
  return chunk_reader{data, out}.read();
}

std::optional<openai_chunk> read_openai_chunk(std::string_view data) {
  openai_chunk out;
  if (!read_openai_chunk(data, out)) return std::nullopt;
  return out;
}

}  // namespace streamgate
