#include "actors/session_registry.hpp"

#include <array>
#include <cstdio>
#include <random>

namespace streamgate {

std::string session_registry::new_id() {
  // std::random_device reads the kernel's CSPRNG on Linux; one device per thread avoids
  // reopening it for every session.
  thread_local std::random_device rd;
  std::array<std::uint32_t, 4> words{rd(), rd(), rd(), rd()};
  char buf[5 + 32 + 1];
  std::snprintf(buf, sizeof buf, "sess_%08x%08x%08x%08x", words[0], words[1], words[2], words[3]);
  return buf;
}

void session_registry::remove(const std::string& id) {
  std::lock_guard<std::mutex> guard{mutex_};
  sessions_.erase(id);
  owners_.erase(id);
}

std::optional<session_actor> session_registry::find_owned(const std::string& id,
                                                          const std::string& owner) const {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  auto tag = owners_.find(id);
  if ((tag == owners_.end() ? std::string{} : tag->second) != owner) return std::nullopt;
  return it->second;
}

std::optional<session_actor> session_registry::find(const std::string& id) const {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  return it->second;
}

std::vector<session_actor> session_registry::all() const {
  std::lock_guard<std::mutex> guard{mutex_};
  std::vector<session_actor> out;
  out.reserve(sessions_.size());
  for (auto& [id, h] : sessions_) out.push_back(h);
  return out;
}

std::size_t session_registry::size() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return sessions_.size();
}

}  // namespace streamgate
