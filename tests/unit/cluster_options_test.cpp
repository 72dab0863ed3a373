// cluster_options without CAF: node ranks, pool owners by configuration or rendezvous hashing,
// degraded shares, the agreement digest and session ids naming their node. Each node builds
// its own options from its own point of view; these tests build every node's and check that
// they agree.

#include "cluster/cluster_options.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace streamgate {
namespace {

// The options of node `self` in a cluster of `ids` (the others become its peers, in the
// order given, so that two nodes list their peers differently).
cluster_options node_view(const std::vector<std::string>& ids, const std::string& self,
                          const std::map<std::string, std::string>& owners = {}) {
  cluster_options o;
  o.enabled = true;
  o.node_id = self;
  o.listen_host = "127.0.0.1";
  o.listen_port = 7000;
  std::uint16_t port = 7001;
  for (auto& id : ids) {
    if (id != self) o.peers.push_back({id, "127.0.0.1", port++});
  }
  o.owners = owners;
  return o;
}

std::vector<std::string> cluster_of(std::size_t n) {
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < n; ++i) ids.push_back("node-" + std::to_string(i + 1));
  return ids;
}

std::vector<std::string> pool_names(std::size_t n) {
  std::vector<std::string> pools;
  for (std::size_t i = 0; i < n; ++i) pools.push_back("pool-" + std::to_string(i));
  return pools;
}

TEST(cluster_options, node_ids_are_sorted_and_include_this_node) {
  // Peers deliberately out of order, this node in the middle.
  auto o = node_view({"zeta", "alpha", "mike", "bravo"}, "mike");
  EXPECT_EQ(o.node_ids(), (std::vector<std::string>{"alpha", "bravo", "mike", "zeta"}));

  // The same list from every node's point of view.
  for (auto& self : {"zeta", "alpha", "bravo"})
    EXPECT_EQ(node_view({"mike", "zeta", "bravo", "alpha"}, self).node_ids(), o.node_ids()) << self;

  // A node alone.
  cluster_options alone;
  alone.node_id = "solo";
  EXPECT_EQ(alone.node_ids(), std::vector<std::string>{"solo"});
}

TEST(cluster_options, a_configured_owner_wins_over_hashing) {
  auto ids = cluster_of(3);
  auto pools = pool_names(30);
  auto plain = node_view(ids, "node-1");
  // For every pool, configure an owner that hashing would not have picked.
  for (auto& pool : pools) {
    auto hashed = plain.owner_of(pool);
    auto other = hashed == "node-1" ? std::string{"node-2"} : std::string{"node-1"};
    for (auto& self : ids) {
      auto o = node_view(ids, self, {{pool, other}});
      EXPECT_EQ(o.owner_of(pool), other) << pool << " seen from " << self;
    }
  }
  // A configured owner does not move the other pools.
  auto one = node_view(ids, "node-2", {{pools[0], "node-3"}});
  for (std::size_t i = 1; i < pools.size(); ++i)
    EXPECT_EQ(one.owner_of(pools[i]), plain.owner_of(pools[i])) << pools[i];
}

// Pool names as operators write them: provider names, unrelated to each other.
const std::vector<std::string> provider_pools{
    "nvidia",     "glm",       "hunyuan",   "openai",    "zhipu",    "mistral",
    "groq",       "deepseek",  "anthropic", "cohere",    "together", "fireworks",
    "perplexity", "replicate", "cerebras",  "sambanova", "lepton",   "novita",
    "baichuan",   "moonshot",  "minimax",   "stepfun",   "yi",       "qwen",
    "ernie",      "spark",     "doubao",    "azure",     "bedrock",  "vertex"};

TEST(cluster_options, every_node_computes_the_same_owner_for_every_pool) {
  for (std::size_t n : {2u, 3u, 5u}) {
    auto ids = cluster_of(n);
    auto reference = node_view(ids, ids[0]);
    for (auto& family : {pool_names(30), provider_pools}) {
      for (auto& pool : family) {
        auto owner = reference.owner_of(pool);
        ASSERT_NE(std::find(ids.begin(), ids.end(), owner), ids.end())
            << pool << " went to '" << owner << "', not a node of the cluster";
        for (auto& self : ids) {
          EXPECT_EQ(node_view(ids, self).owner_of(pool), owner)
              << pool << ": node " << self << " disagrees with " << ids[0] << " (n=" << n << ")";
        }
        // Deterministic: asking again gives the same answer.
        EXPECT_EQ(reference.owner_of(pool), owner);
      }
    }
  }
}

// Every node owns at least one of 30 pools, for two families of names: unrelated ones, and
// names that differ only in their last characters (one pool per provider key: "pool-0",
// "pool-1", ...), which a hash without avalanche on its last bytes gives all to one node.
TEST(cluster_options, hashing_spreads_30_pools_over_every_node) {
  for (auto& family : {provider_pools, pool_names(30)}) {
    for (std::size_t n : {2u, 3u, 5u}) {
      auto ids = cluster_of(n);
      auto o = node_view(ids, ids[0]);
      std::map<std::string, int> owned;
      for (auto& pool : family) ++owned[o.owner_of(pool)];
      for (auto& id : ids)
        EXPECT_GE(owned[id], 1) << id << " owns none of 30 pools named like '" << family[0]
                                << "' in a cluster of " << n;
    }
  }
}

TEST(cluster_options, adding_a_node_moves_only_the_pools_it_wins) {
  auto before = node_view(cluster_of(3), "node-1");
  auto after = node_view(cluster_of(4), "node-1");
  int moved = 0;
  for (auto& family : {provider_pools, pool_names(30)}) {
    for (auto& pool : family) {
      auto was = before.owner_of(pool), is = after.owner_of(pool);
      if (was != is) {
        EXPECT_EQ(is, "node-4") << pool << " moved from " << was << " to " << is;
        ++moved;
      }
    }
  }
  EXPECT_GT(moved, 0);
}

TEST(cluster_options, shares_of_all_nodes_add_up_to_the_limit) {
  for (std::size_t n : {1u, 2u, 3u, 4u, 7u}) {
    auto ids = cluster_of(n);
    for (std::uint32_t limit : {1u, 2u, 3u, 5u, 10u, 11u, 80u, 97u, 1000u, 4294967295u}) {
      std::uint64_t sum = 0;
      std::uint32_t most = 0, least = UINT32_MAX;
      for (auto& self : ids) {
        auto share = node_view(ids, self).share_of(limit);
        sum += share;
        most = std::max(most, share);
        least = std::min(least, share);
      }
      EXPECT_EQ(sum, limit) << "n=" << n << " limit=" << limit;
      // Equal shares, the remainder spread one by one.
      EXPECT_LE(most - least, 1u) << "n=" << n << " limit=" << limit;
    }
  }
}

TEST(cluster_options, the_remainder_goes_to_the_first_nodes_by_rank) {
  // Peers listed out of rank order: the rank comes from the sorted ids.
  std::vector<std::string> ids{"c", "a", "b"};
  EXPECT_EQ(node_view(ids, "a").share_of(11), 4u);
  EXPECT_EQ(node_view(ids, "b").share_of(11), 4u);
  EXPECT_EQ(node_view(ids, "c").share_of(11), 3u);
}

TEST(cluster_options, zero_means_no_limit_and_stays_zero) {
  for (std::size_t n : {1u, 3u, 5u}) {
    auto ids = cluster_of(n);
    for (auto& self : ids) EXPECT_EQ(node_view(ids, self).share_of(0), 0u) << self;
  }
}

TEST(cluster_options, a_limit_below_the_node_count_gives_one_to_the_first_nodes) {
  std::vector<std::string> ids{"e", "d", "c", "b", "a"};  // ranks: a b c d e
  std::map<std::string, std::uint32_t> shares;
  for (auto& self : ids) shares[self] = node_view(ids, self).share_of(2);
  EXPECT_EQ(shares, (std::map<std::string, std::uint32_t>{
                        {"a", 1}, {"b", 1}, {"c", 0}, {"d", 0}, {"e", 0}}));
  for (auto& self : ids) EXPECT_EQ(node_view(ids, self).share_of(1), self == "a" ? 1u : 0u) << self;
}

TEST(cluster_options, the_digest_agrees_between_nodes_of_one_cluster) {
  auto ids = cluster_of(4);
  auto pools = pool_names(8);
  std::map<std::string, std::string> owners{{"pool-1", "node-3"}, {"pool-5", "node-1"}};
  auto digest = node_view(ids, ids[0], owners).agreement_digest(pools);
  EXPECT_EQ(digest.size(), 16u);
  for (auto& self : ids)
    EXPECT_EQ(node_view(ids, self, owners).agreement_digest(pools), digest) << self;
  // The order of the pool names does not matter.
  auto reversed = pools;
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(node_view(ids, "node-2", owners).agreement_digest(reversed), digest);
}

TEST(cluster_options, the_digest_differs_when_an_owner_or_a_node_differs) {
  auto ids = cluster_of(3);
  auto pools = pool_names(4);
  auto base = node_view(ids, "node-1", {{"pool-0", "node-2"}});
  auto digest = base.agreement_digest(pools);

  // Another owner for one pool.
  EXPECT_NE(node_view(ids, "node-2", {{"pool-0", "node-3"}}).agreement_digest(pools), digest);
  // No owner configured: the digest covers the owner in effect, so it differs exactly when
  // hashing picks another node than the configured node-2.
  auto hashed_owner = node_view(ids, "node-1").owner_of("pool-0");
  EXPECT_EQ(node_view(ids, "node-2").agreement_digest(pools) == digest, hashed_owner == "node-2")
      << "hashing picks " << hashed_owner;
  // One node names an owner for pool-1 that hashing would not pick, the other names none.
  auto hashed = node_view(ids, "node-1").owner_of("pool-1");
  auto other = hashed == "node-3" ? std::string{"node-1"} : std::string{"node-3"};
  EXPECT_NE(node_view(ids, "node-3", {{"pool-1", other}}).agreement_digest(pools),
            node_view(ids, "node-1").agreement_digest(pools));
  // Another node id (one node renamed), seen from a node both clusters share.
  EXPECT_NE(node_view({"node-1", "node-2", "node-9"}, "node-1", {{"pool-0", "node-2"}})
                .agreement_digest(pools),
            digest);
  // One node more.
  EXPECT_NE(node_view(cluster_of(4), "node-1", {{"pool-0", "node-2"}}).agreement_digest(pools),
            digest);
  // Another set of pools.
  EXPECT_NE(base.agreement_digest(pool_names(5)), digest);
}

TEST(cluster_options, the_digest_does_not_mistake_one_split_of_names_for_another) {
  // Two clusters whose ids concatenate to the same text must not agree.
  auto a = node_view({"ab", "c"}, "ab");
  auto b = node_view({"a", "bc"}, "a");
  EXPECT_NE(a.agreement_digest({}), b.agreement_digest({}));
}

TEST(cluster_options, a_session_id_names_its_node_after_the_first_dot) {
  EXPECT_EQ(session_node("sess_abc.node-1"), "node-1");
  EXPECT_EQ(session_node("sess_0123456789abcdef0123456789abcdef.b"), "b");
  // Node ids may contain '.': everything after the session's own part.
  EXPECT_EQ(session_node("sess_abc.node.eu-1"), "node.eu-1");
  EXPECT_EQ(session_node("sess_abc"), "");
  EXPECT_EQ(session_node(""), "");
}

}  // namespace
}  // namespace streamgate
