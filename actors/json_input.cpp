#include "actors/json_input.hpp"

namespace streamgate {
namespace {

using json = nlohmann::json;
using dom_builder = nlohmann::detail::json_sax_dom_parser<json>;

// nlohmann's own tree builder, with a depth count in front of it: a SAX handler that refuses
// an event ends the parse there.
class bounded_dom_builder : public dom_builder {
 public:
  bounded_dom_builder(json& root, std::size_t max_depth)
      : dom_builder(root, /*allow_exceptions=*/false), max_depth_(max_depth) {}

  bool start_object(std::size_t n) { return enter() && dom_builder::start_object(n); }
  bool start_array(std::size_t n) { return enter() && dom_builder::start_array(n); }
  bool end_object() {
    --depth_;
    return dom_builder::end_object();
  }
  bool end_array() {
    --depth_;
    return dom_builder::end_array();
  }

  bool too_deep() const { return too_deep_; }

 private:
  bool enter() {
    too_deep_ = ++depth_ > max_depth_;
    return !too_deep_;
  }

  std::size_t max_depth_;
  std::size_t depth_ = 0;
  bool too_deep_ = false;
};

}  // namespace

json_input parse_json_input(std::string_view text, std::size_t max_depth) {
  json_input out;
  bounded_dom_builder builder{out.value, max_depth};
  if (json::sax_parse(text, &builder, json::input_format_t::json, /*strict=*/true)) return out;
  out.outcome =
      builder.too_deep() ? json_input::status::too_deep : json_input::status::syntax_error;
  out.value = json(json::value_t::discarded);
  return out;
}

std::string too_deep_message(std::string_view what, std::size_t max_depth) {
  return std::string{what} + " nests arrays or objects more than " + std::to_string(max_depth) +
         " levels deep";
}

}  // namespace streamgate
