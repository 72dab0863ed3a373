#pragma once

#include "app/config.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace streamgate {

// Reads one JSON object field by field, tracking the path for error messages (config_error
// starts with the key's path), and rejects keys nobody asked for.
class object_reader {
 public:
  using json = nlohmann::json;

  object_reader(const json& j, std::string path);

  // The path of `key` in this object, for error messages.
  std::string at(const std::string& key) const;
  // The value of `key`, or null when absent; either way `key` counts as asked for.
  const json* field(const std::string& key);

  template <class Int>
  void integer(const std::string& key, Int& out, std::int64_t min = 0,
               std::int64_t max = std::numeric_limits<std::int32_t>::max()) {
    if (auto* v = field(key)) {
      if (!v->is_number_integer()) throw config_error(at(key) + ": expected integer");
      auto x = v->get<std::int64_t>();
      if (x < min || x > max)
        throw config_error(at(key) + ": must be between " + std::to_string(min) + " and " +
                           std::to_string(max));
      out = static_cast<Int>(x);
    }
  }
  void millis(const std::string& key, std::chrono::milliseconds& out);
  void boolean(const std::string& key, bool& out);
  void string(const std::string& key, std::string& out);
  void string_list(const std::string& key, std::vector<std::string>& out);
  // A nested object: `fn` reads it, then its unknown keys are refused.
  void object(const std::string& key, const std::function<void(object_reader&)>& fn);

  // Every key of the object must have been asked for.
  void finish() const;
  std::vector<std::string> keys() const;
  std::string where() const;

 private:
  const json& j_;
  std::string path_;
  std::vector<std::string> seen_;
};

}  // namespace streamgate
