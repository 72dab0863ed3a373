#include "app/object_reader.hpp"

#include <algorithm>

namespace streamgate {

object_reader::object_reader(const json& j, std::string path) : j_(j), path_(std::move(path)) {
  if (!j_.is_object()) throw config_error(where() + ": expected object");
}

std::string object_reader::at(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

const object_reader::json* object_reader::field(const std::string& key) {
  seen_.push_back(key);
  auto it = j_.find(key);
  return it == j_.end() ? nullptr : &*it;
}

void object_reader::millis(const std::string& key, std::chrono::milliseconds& out) {
  std::int64_t ms = out.count();
  integer(key, ms, 0, 24LL * 3600 * 1000);
  out = std::chrono::milliseconds{ms};
}

void object_reader::boolean(const std::string& key, bool& out) {
  if (auto* v = field(key)) {
    if (!v->is_boolean()) throw config_error(at(key) + ": expected boolean");
    out = v->get<bool>();
  }
}

void object_reader::string(const std::string& key, std::string& out) {
  if (auto* v = field(key)) {
    if (!v->is_string()) throw config_error(at(key) + ": expected string");
    out = v->get<std::string>();
  }
}

void object_reader::string_list(const std::string& key, std::vector<std::string>& out) {
  if (auto* v = field(key)) {
    if (!v->is_array()) throw config_error(at(key) + ": expected array of strings");
    out.clear();
    for (std::size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string())
        throw config_error(at(key) + "[" + std::to_string(i) + "]: expected string");
      out.push_back((*v)[i].get<std::string>());
    }
  }
}

void object_reader::object(const std::string& key, const std::function<void(object_reader&)>& fn) {
  if (auto* v = field(key)) {
    object_reader sub{*v, at(key)};
    fn(sub);
    sub.finish();
  }
}

void object_reader::finish() const {
  for (auto& [k, v] : j_.items()) {
    (void)v;
    if (std::find(seen_.begin(), seen_.end(), k) == seen_.end())
      throw config_error(at(k) + ": unknown key");
  }
}

std::vector<std::string> object_reader::keys() const {
  std::vector<std::string> out;
  for (auto& [k, v] : j_.items()) {
    (void)v;
    out.push_back(k);
  }
  return out;
}

std::string object_reader::where() const {
  return path_.empty() ? "(root)" : path_;
}

}  // namespace streamgate
