// The "cluster" object of the configuration file (docs/cluster.md): a valid one fills
// gateway.cluster; every mistake is a config_error that starts with the key's path.

#include "app/config.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace streamgate {
namespace {

using json = nlohmann::json;

class cluster_config : public ::testing::Test {
 protected:
  void SetUp() override {
    certificate = temp_file("cert");
    key = temp_file("key");
    ca = temp_file("ca");
  }

  void TearDown() override {
    for (auto& f : files) ::unlink(f.c_str());
  }

  std::string temp_file(const std::string& what) {
    std::string path = ::testing::TempDir() + "sg_cluster_" + what + "_XXXXXX";
    std::vector<char> buf(path.begin(), path.end());
    buf.push_back('\0');
    int fd = ::mkstemp(buf.data());
    EXPECT_GE(fd, 0) << path;
    if (fd >= 0) {
      auto text = "-----BEGIN " + what + "-----\n";
      EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
      ::close(fd);
    }
    files.emplace_back(buf.data());
    return files.back();
  }

  // Node "b" of a cluster of a, b and c, with a shared pool "nvidia" and a provider "glm"
  // whose inline quota makes a pool "glm".
  json valid() const {
    auto j = json::parse(R"({
      "quota_pools": {"nvidia": {"rpm": 80, "max_concurrent": 10}},
      "providers": [{"name": "glm", "kind": "mock", "models": ["glm"],
                     "quota": {"max_concurrent": 1}}],
      "cluster": {
        "node_id": "b",
        "listen": "10.0.0.2:7100",
        "peers": [{"id": "a", "address": "10.0.0.1:7100"},
                  {"id": "c", "address": "node-c.internal:7101"}],
        "tls": {},
        "owners": {"nvidia": "a", "glm": "c"},
        "rejoin_hold_ms": 1500,
        "reconnect_interval_ms": 250,
        "request_timeout_ms": 3000
      }
    })");
    j["cluster"]["tls"] = {{"certificate", certificate}, {"key", key}, {"ca", ca}};
    return j;
  }

  // The message of the config_error that `j` raises, or "no error".
  static std::string error_of(const json& j) {
    app_config cfg;
    try {
      apply_config_json(j.dump(), cfg);
    } catch (const config_error& e) {
      return e.what();
    }
    return "no error";
  }

  // The cluster part of the valid config with `patch` merged in (RFC 7386: null removes).
  std::string error_with(const json& cluster_patch) const {
    auto j = valid();
    j["cluster"].merge_patch(cluster_patch);
    return error_of(j);
  }

  app_config parsed(const json& j) const {
    app_config cfg;
    apply_config_json(j.dump(), cfg);
    return cfg;
  }

  std::string certificate, key, ca;
  std::vector<std::string> files;
};

::testing::AssertionResult names_path(const std::string& message, const std::string& path) {
  if (message.rfind(path + ": ", 0) == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "'" << message << "' does not start with '" << path << ": '";
}

TEST_F(cluster_config, without_a_cluster_object_the_node_stands_alone) {
  auto cfg = parsed(json::object());
  EXPECT_FALSE(cfg.gateway.cluster.enabled);
  EXPECT_TRUE(cfg.gateway.cluster.peers.empty());
}

TEST_F(cluster_config, a_valid_cluster_object_fills_gateway_cluster) {
  auto cfg = parsed(valid());
  auto& c = cfg.gateway.cluster;
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.node_id, "b");
  EXPECT_EQ(c.listen_host, "10.0.0.2");
  EXPECT_EQ(c.listen_port, 7100);
  ASSERT_EQ(c.peers.size(), 2u);
  EXPECT_EQ(c.peers[0].id, "a");
  EXPECT_EQ(c.peers[0].host, "10.0.0.1");
  EXPECT_EQ(c.peers[0].port, 7100);
  EXPECT_EQ(c.peers[1].id, "c");
  EXPECT_EQ(c.peers[1].host, "node-c.internal");  // peers may be names; only listen may not
  EXPECT_EQ(c.peers[1].port, 7101);
  EXPECT_EQ(c.tls.certificate, certificate);
  EXPECT_EQ(c.tls.key, key);
  EXPECT_EQ(c.tls.ca, ca);
  EXPECT_EQ(c.owners, (std::map<std::string, std::string>{{"nvidia", "a"}, {"glm", "c"}}));
  EXPECT_EQ(c.owner_of("nvidia"), "a");
  EXPECT_EQ(c.owner_of("glm"), "c");
  EXPECT_EQ(c.rejoin_hold.count(), 1500);
  EXPECT_EQ(c.reconnect_interval.count(), 250);
  EXPECT_EQ(c.request_timeout.count(), 3000);
  EXPECT_EQ(c.node_ids(), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(cluster_config, the_timings_and_owners_have_defaults) {
  auto j = valid();
  for (auto k : {"owners", "rejoin_hold_ms", "reconnect_interval_ms", "request_timeout_ms"})
    j["cluster"].erase(k);
  auto c = parsed(j).gateway.cluster;
  EXPECT_TRUE(c.owners.empty());
  EXPECT_EQ(c.rejoin_hold.count(), 1000);
  EXPECT_EQ(c.reconnect_interval.count(), 500);
  EXPECT_EQ(c.request_timeout.count(), 2000);
}

TEST_F(cluster_config, the_node_id_is_required_and_checked) {
  EXPECT_TRUE(names_path(error_with({{"node_id", nullptr}}), "cluster.node_id"));
  EXPECT_TRUE(names_path(error_with({{"node_id", ""}}), "cluster.node_id"));
  EXPECT_TRUE(names_path(error_with({{"node_id", "node b"}}), "cluster.node_id"));
  EXPECT_TRUE(names_path(error_with({{"node_id", "b/1"}}), "cluster.node_id"));
  EXPECT_TRUE(names_path(error_with({{"node_id", "b:1"}}), "cluster.node_id"));
  EXPECT_TRUE(names_path(error_with({{"node_id", "b\xc3\xa9"}}), "cluster.node_id"));
  EXPECT_TRUE(names_path(error_with({{"node_id", 7}}), "cluster.node_id"));
  EXPECT_TRUE(names_path(error_with({{"node_id", std::string(65, 'b')}}), "cluster.node_id"));
  // The limits themselves are fine: 64 characters, and each allowed character.
  EXPECT_EQ(error_with({{"node_id", std::string(64, 'b')}}), "no error");
  EXPECT_EQ(error_with({{"node_id", "Node_b-1.eu"}}), "no error");
}

TEST_F(cluster_config, listen_is_required) {
  EXPECT_EQ(error_with({{"listen", nullptr}}), "cluster.listen: required (HOST:PORT)");
  EXPECT_TRUE(names_path(error_with({{"listen", "10.0.0.2"}}), "cluster.listen"));
  EXPECT_TRUE(names_path(error_with({{"listen", "10.0.0.2:70000"}}), "cluster.listen"));
}

TEST_F(cluster_config, listen_must_be_a_private_address_literal) {
  for (auto bad : {"8.8.8.8:7000", "0.0.0.0:7000", "localhost:7000", "172.32.0.1:7000",
                   "172.15.255.255:7000", "11.0.0.1:7000", "192.169.0.1:7000", "169.254.0.1:7000",
                   ":::7000", "fe80::1:7000", "2001:db8::1:7000", "::ffff:8.8.8.8:7000"}) {
    auto e = error_with({{"listen", bad}});
    EXPECT_TRUE(names_path(e, "cluster.listen")) << bad;
    EXPECT_NE(e.find("not a loopback or private address"), std::string::npos) << bad << ": " << e;
  }
  EXPECT_EQ(error_with({{"listen", "8.8.8.8:7000"}}),
            "cluster.listen: '8.8.8.8' is not a loopback or private address literal: the cluster "
            "port must not face clients");
}

TEST_F(cluster_config, loopback_and_private_addresses_are_accepted) {
  struct accepted {
    const char* listen;
    const char* host;
  };
  for (auto [listen, host] :
       {accepted{"127.0.0.1:7000", "127.0.0.1"}, accepted{"127.255.0.9:7000", "127.255.0.9"},
        accepted{"10.255.255.255:7000", "10.255.255.255"},
        accepted{"172.16.0.1:7000", "172.16.0.1"},
        accepted{"172.31.255.254:7000", "172.31.255.254"},
        accepted{"192.168.1.1:7000", "192.168.1.1"}, accepted{"::1:7000", "::1"},
        accepted{"fd00::1:7000", "fd00::1"}, accepted{"fc12:3456::9:7000", "fc12:3456::9"}}) {
    auto j = valid();
    j["cluster"]["listen"] = listen;
    ASSERT_EQ(error_of(j), "no error") << listen;
    auto c = parsed(j).gateway.cluster;
    EXPECT_EQ(c.listen_host, host);
    EXPECT_EQ(c.listen_port, 7000);
  }
}

TEST_F(cluster_config, peers_must_be_an_array_of_one_to_64) {
  const std::string expected = "cluster.peers: expected an array of 1 to 64 peers";
  EXPECT_EQ(error_with({{"peers", nullptr}}), expected);
  EXPECT_EQ(error_with({{"peers", json::array()}}), expected);
  EXPECT_EQ(error_with({{"peers", json::object()}}), expected);
  EXPECT_EQ(error_with({{"peers", "a=10.0.0.1:7100"}}), expected);

  auto peers = [](int n) {
    auto list = json::array();
    for (int i = 0; i < n; ++i)
      list.push_back(
          {{"id", "p" + std::to_string(i)}, {"address", "10.0.1.1:" + std::to_string(7000 + i)}});
    return list;
  };
  EXPECT_EQ(error_with({{"peers", peers(65)}, {"owners", nullptr}}), expected);
  auto j = valid();
  j["cluster"]["peers"] = peers(64);
  j["cluster"].erase("owners");
  ASSERT_EQ(error_of(j), "no error");
  EXPECT_EQ(parsed(j).gateway.cluster.peers.size(), 64u);
}

TEST_F(cluster_config, a_peer_id_is_checked_and_unique) {
  EXPECT_EQ(
      error_with({{"peers", {{{"id", "b"}, {"address", "10.0.0.1:7100"}}}}, {"owners", nullptr}}),
      "cluster.peers[0].id: node id 'b' is taken");
  EXPECT_EQ(error_with({{"peers",
                         {{{"id", "a"}, {"address", "10.0.0.1:7100"}},
                          {{"id", "a"}, {"address", "10.0.0.3:7100"}}}}}),
            "cluster.peers[1].id: node id 'a' is taken");
  EXPECT_TRUE(names_path(
      error_with({{"peers", {{{"id", "a b"}, {"address", "10.0.0.1:7100"}}}}, {"owners", nullptr}}),
      "cluster.peers[0].id"));
  EXPECT_TRUE(
      names_path(error_with({{"peers", {{{"address", "10.0.0.1:7100"}}}}, {"owners", nullptr}}),
                 "cluster.peers[0].id"));
  EXPECT_TRUE(
      names_path(error_with({{"peers",
                              {{{"id", "a"}, {"address", "10.0.0.1:7100"}},
                               {{"id", std::string(65, 'c')}, {"address", "10.0.0.3:7100"}}}},
                             {"owners", nullptr}}),
                 "cluster.peers[1].id"));
  EXPECT_EQ(error_with({{"peers", {"a"}}, {"owners", nullptr}}),
            "cluster.peers[0]: expected object");
}

TEST_F(cluster_config, a_malformed_peer_address_is_refused) {
  auto with_address = [&](const json& address) {
    json peer = {{"id", "a"}};
    if (!address.is_null()) peer["address"] = address;
    return error_with({{"peers", {peer}}, {"owners", nullptr}});
  };
  EXPECT_EQ(with_address("nowhere"), "cluster.peers[0].address: expected HOST:PORT, got 'nowhere'");
  EXPECT_EQ(with_address("10.0.0.1:"),
            "cluster.peers[0].address: expected HOST:PORT, got '10.0.0.1:'");
  EXPECT_EQ(with_address(":7100"), "cluster.peers[0].address: expected HOST:PORT, got ':7100'");
  EXPECT_EQ(with_address("10.0.0.1:99999"), "cluster.peers[0].address: invalid port '99999'");
  EXPECT_EQ(with_address("10.0.0.1:71x"), "cluster.peers[0].address: invalid port '71x'");
  EXPECT_TRUE(names_path(with_address(nullptr), "cluster.peers[0].address"));
  EXPECT_EQ(with_address(7100), "cluster.peers[0].address: expected string");
}

TEST_F(cluster_config, tls_is_required_with_readable_files) {
  auto e = error_with({{"tls", nullptr}});
  EXPECT_TRUE(names_path(e, "cluster.tls")) << e;
  EXPECT_NE(e.find("required"), std::string::npos) << e;

  EXPECT_EQ(error_with({{"tls", {{"key", nullptr}}}}), "cluster.tls.key: required");
  EXPECT_EQ(error_with({{"tls", {{"certificate", nullptr}}}}), "cluster.tls.certificate: required");
  EXPECT_EQ(error_with({{"tls", {{"ca", nullptr}}}}), "cluster.tls.ca: required");
  const std::string missing = ::testing::TempDir() + "sg_cluster_no_such_file.pem";
  ::unlink(missing.c_str());
  EXPECT_EQ(error_with({{"tls", {{"ca", missing}}}}),
            "cluster.tls.ca: cannot read '" + missing + "'");
  EXPECT_EQ(error_with({{"tls", {{"certificate", missing}}}}),
            "cluster.tls.certificate: cannot read '" + missing + "'");
  EXPECT_EQ(error_with({{"tls", {{"key", "/nonexistent/dir/b.key"}}}}),
            "cluster.tls.key: cannot read '/nonexistent/dir/b.key'");
  EXPECT_EQ(error_with({{"tls", {{"pem", certificate}}}}), "cluster.tls.pem: unknown key");
  EXPECT_EQ(error_with({{"tls", "certs/"}}), "cluster.tls: expected object");
}

TEST_F(cluster_config, an_unreadable_tls_file_is_refused) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  ASSERT_EQ(::chmod(key.c_str(), 0), 0);
  EXPECT_EQ(error_with(json::object()), "cluster.tls.key: cannot read '" + key + "'");
}

TEST_F(cluster_config, owners_name_known_pools_and_nodes) {
  EXPECT_EQ(error_with({{"owners", {{"openai", "a"}}}}),
            "cluster.owners.openai: unknown quota pool 'openai'");
  EXPECT_EQ(error_with({{"owners", {{"nvidia", "z"}}}}), "cluster.owners.nvidia: unknown node 'z'");
  EXPECT_EQ(error_with({{"owners", {{"nvidia", 1}}}}), "cluster.owners.nvidia: expected string");
  // This node itself may own a pool.
  auto j = valid();
  j["cluster"]["owners"] = {{"nvidia", "b"}};
  ASSERT_EQ(error_of(j), "no error");
  EXPECT_EQ(parsed(j).gateway.cluster.owner_of("nvidia"), "b");
}

TEST_F(cluster_config, timings_are_bounded) {
  auto e = error_with({{"reconnect_interval_ms", 9}});
  EXPECT_TRUE(names_path(e, "cluster")) << e;
  EXPECT_NE(e.find("reconnect_interval_ms"), std::string::npos) << e;
  e = error_with({{"request_timeout_ms", 0}});
  EXPECT_NE(e.find("request_timeout_ms"), std::string::npos) << e;
  EXPECT_EQ(error_with({{"reconnect_interval_ms", 10}, {"request_timeout_ms", 10}}), "no error");
  EXPECT_TRUE(names_path(error_with({{"rejoin_hold_ms", -1}}), "cluster.rejoin_hold_ms"));
  EXPECT_EQ(error_with({{"rejoin_hold_ms", "1s"}}), "cluster.rejoin_hold_ms: expected integer");
  EXPECT_EQ(error_with({{"rejoin_hold_ms", 0}}), "no error");
}

TEST_F(cluster_config, unknown_keys_are_refused) {
  EXPECT_EQ(error_with({{"nodes", json::array()}}), "cluster.nodes: unknown key");
  EXPECT_EQ(error_with({{"reconnect_ms", 100}}), "cluster.reconnect_ms: unknown key");
  EXPECT_EQ(error_with({{"peers",
                         {{{"id", "a"}, {"address", "10.0.0.1:7100"}, {"weight", 2}},
                          {{"id", "c"}, {"address", "10.0.0.3:7100"}}}}}),
            "cluster.peers[0].weight: unknown key");
  auto j = valid();
  j["cluster"] = "on";
  EXPECT_EQ(error_of(j), "cluster: expected object");
}

}  // namespace
}  // namespace streamgate
