#include "cluster/cluster_options.hpp"

#include <algorithm>
#include <cstdio>

namespace streamgate {
namespace {

// FNV-1a, 64 bits: stable across builds and platforms, which std::hash is not.
std::uint64_t fnv1a(const std::string& text, std::uint64_t h = 14695981039346656037ull) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

std::string session_node(const std::string& session_id) {
  auto dot = session_id.find('.');
  return dot == std::string::npos ? std::string{} : session_id.substr(dot + 1);
}

namespace {

constexpr std::size_t bind_digits = 8;

std::string binding(const std::string& head, const std::string& owner) {
  auto h = fnv1a(owner + '\0' + head);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  char out[bind_digits + 1];
  std::snprintf(out, sizeof out, "%08x", static_cast<unsigned>(h & 0xffffffffu));
  return out;
}

}  // namespace

std::string bind_session_id(const std::string& random_id, const std::string& owner,
                            const std::string& node) {
  if (random_id.size() <= bind_digits) return random_id + "." + node;
  auto head = random_id.substr(0, random_id.size() - bind_digits);
  return head + binding(head, owner) + "." + node;
}

bool session_bound_to(const std::string& session_id, const std::string& owner) {
  auto dot = session_id.find('.');
  if (dot == std::string::npos || dot <= bind_digits) return false;
  auto head = session_id.substr(0, dot - bind_digits);
  return session_id.compare(dot - bind_digits, bind_digits, binding(head, owner)) == 0;
}

std::vector<std::string> cluster_options::node_ids() const {
  std::vector<std::string> ids{node_id};
  for (auto& p : peers) ids.push_back(p.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

namespace {

// MurmurHash3's finalizer: FNV-1a alone barely mixes its last bytes, so pools named alike
// ("pool-1", "pool-2") would all score highest on the same node.
std::uint64_t mix(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

}  // namespace

std::string cluster_options::owner_of(const std::string& pool) const {
  if (auto it = owners.find(pool); it != owners.end()) return it->second;
  // Rendezvous hashing: the node whose hash with the pool's name is highest. Every node
  // computes the same winner from the same list, and adding a node moves only the pools it
  // wins.
  std::string best;
  std::uint64_t best_score = 0;
  for (auto& id : node_ids()) {
    auto score = mix(fnv1a(pool, fnv1a(id + '\0')));
    if (best.empty() || score > best_score) {
      best = id;
      best_score = score;
    }
  }
  return best;
}

std::uint32_t cluster_options::share_of(std::uint32_t limit) const {
  return share_of(limit, node_id);
}

std::uint32_t cluster_options::share_of(std::uint32_t limit, const std::string& node) const {
  if (limit == 0) return 0;
  auto ids = node_ids();
  auto n = static_cast<std::uint32_t>(ids.size());
  auto rank = static_cast<std::uint32_t>(std::find(ids.begin(), ids.end(), node) - ids.begin());
  return limit / n + (rank < limit % n ? 1 : 0);
}

std::string cluster_options::agreement_digest(const std::vector<std::string>& pools) const {
  std::string text;
  for (auto& id : node_ids()) text += id + '\n';
  auto sorted = pools;
  std::sort(sorted.begin(), sorted.end());
  for (auto& pool : sorted) text += pool + '=' + owner_of(pool) + '\n';
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(fnv1a(text)));
  return out;
}

}  // namespace streamgate
