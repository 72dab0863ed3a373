// Cluster mode with real processes: three streamgate nodes on loopback sharing one quota pool
// over CAF's middleman (mutual TLS), in front of the real fake upstream. What the fake counts
// (its peak of open requests, its request total) is what the provider would have seen.

#include "cluster/cluster_options.hpp"
#include "tests/integration/upstream_fixture.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/ws_client.hpp"
#include "tools/fake_upstream/behaviour.hpp"
#include "tools/fake_upstream/fake_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace streamgate::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const std::vector<std::string> node_ids = {"a", "b", "c"};

// One CA and a certificate per node (and a stranger's, signed by another CA), made once.
const std::string& cert_dir() {
  static const std::string dir = [] {
    std::string d = "/tmp/sg-cluster-test-" + std::to_string(::getpid());
    std::string script = std::string{SOURCE_DIR} + "/scripts/cluster-certs.sh";
    auto run = [&](const std::string& args) {
      auto cmd = script + " " + args;
      if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
    };
    run(d + " a b c");
    run(d + "/stranger b");
    return d;
  }();
  return dir;
}

struct node_process {
  std::unique_ptr<child_process> process;
  std::uint16_t http_port = 0;
  std::uint16_t admin_port = 0;
};

// Three nodes; the pool "shared" is node a's. Each node's config can be changed before start.
class cluster_test : public ::testing::Test {
 protected:
  explicit cluster_test(fake::behaviour b = slow_streams()) {
    fake::server_options o;
    o.defaults = b;
    o.threads = 2;
    fake_ = std::make_unique<fake::fake_server>(o);
    fake_->start();
    for (auto& id : node_ids) cluster_ports_[id] = unused_loopback_port();
  }

  static fake::behaviour slow_streams() {
    fake::behaviour b;
    b.chunks = 10;
    b.interval_ms = 60;  // 0.6 s a stream: long enough to overlap, short enough to wait out
    return b;
  }

  json config_of(const std::string& id, const json& pool, const std::string& certs = {}) {
    auto config = base_config(id, pool, certs);
    config.merge_patch(extra_config_);
    return config;
  }

  json base_config(const std::string& id, const json& pool, const std::string& certs) {
    json peers = json::array();
    for (auto& other : node_ids) {
      if (other == id) continue;
      peers.push_back(
          {{"id", other}, {"address", "127.0.0.1:" + std::to_string(cluster_ports_[other])}});
    }
    auto dir = certs.empty() ? cert_dir() : certs;
    return {{"log", {{"level", "info"}}},
            // How long an owner keeps the room of a node out of reach (docs/cluster.md).
            {"supervision", {{"reclaim_window_ms", 1000}}},
            {"quota_pools", {{"shared", pool}}},
            {"providers",
             {{{"name", "fake"},
               {"kind", "custom"},
               {"base_url", "http://127.0.0.1:" + std::to_string(fake_->port()) + "/v1"},
               {"models", {"m"}},
               // A stream that runs for a minute, for leases held while a node dies; one
               // whose log is far larger than a client's buffer, at once.
               {"rename",
                {{"long", "m@chunks=1000,interval_ms=60"},
                 {"big", "m@chunks=3000,chunk_size=200,interval_ms=0"}}},
               {"pool", "shared"}}}},
            {"cluster",
             {{"node_id", id},
              {"listen", "127.0.0.1:" + std::to_string(cluster_ports_[id])},
              {"peers", peers},
              {"tls",
               {{"certificate", dir + "/" + id + ".pem"},
                {"key", dir + "/" + id + ".key"},
                {"ca", dir + "/ca.pem"}}},
              {"owners", {{"shared", "a"}}},
              {"rejoin_hold_ms", 200},
              {"reconnect_interval_ms", 100}}}};
  }

  node_process& start(const std::string& id, const json& config) {
    auto& n = nodes_[id];
    n.process = std::make_unique<child_process>(
        STREAMGATE_BIN,
        std::vector<std::string>{"--config", write_temp_file(config.dump()), "--listen",
                                 "127.0.0.1:0", "--admin", "--admin-listen", "127.0.0.1:0"});
    auto line = n.process->wait_for_line("streamgate listening on");
    if (line.empty()) throw std::runtime_error("node " + id + ": " + n.process->stderr_text());
    n.http_port = child_process::port_of(line);
    n.admin_port = child_process::port_of(n.process->wait_for_line("streamgate admin on"));
    return n;
  }

  void start_all(const json& pool) {
    for (auto& id : node_ids) start(id, config_of(id, pool));
    for (auto& id : node_ids) ASSERT_TRUE(connected_to_owner(id)) << id;
  }

  // The node's metrics: a gauge's value, or -1 when it is not there.
  double metric(const std::string& id, const std::string& series) {
    http_client c{nodes_[id].admin_port};
    auto body = c.request("GET", "/metrics").body;
    auto at = body.find(series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(body.substr(at + series.size() + 1));
  }

  // Every node reaches the others, and the pool's owner (a) is not out of reach.
  bool connected_to_owner(const std::string& id) {
    return eventually(
        [&] {
          return metric(id, "streamgate_cluster_peers{state=\"connected\"}") == 2 &&
                 (id == "a" || metric(id, "streamgate_cluster_degraded{pool=\"shared\"}") == 0);
        },
        10s);
  }

  // The pool's figures on the node (the owner's for node a, the proxy's local view elsewhere).
  json pool_view(const std::string& id) {
    http_client c{nodes_[id].admin_port};
    auto view = json::parse(c.request("GET", "/admin/providers").body);
    return view.at("providers").at(0).at("pool");
  }

  // `count` streams at once, spread over `ids` in turn; how many ended with [DONE].
  int stream_all(int count, const std::vector<std::string>& ids) {
    std::vector<std::thread> threads;
    std::atomic<int> done{0};
    for (int i = 0; i < count; ++i) {
      auto port = nodes_[ids[i % ids.size()]].http_port;
      threads.emplace_back([port, &done] {
        http_client c{port, 20s};
        if (completed(c.request("POST", "/v1/chat/completions", upstream_fixture::chat_body("m"))))
          ++done;
      });
    }
    for (auto& t : threads) t.join();
    return done.load();
  }

  const fake::stats& upstream() { return fake_->counters(); }

  // The nodes' logs say what the cluster did; shown only when a test failed.
  void TearDown() override {
    if (!HasFailure()) return;
    for (auto& [id, n] : nodes_)
      if (n.process) std::printf("--- node %s\n%s\n", id.c_str(), n.process->stderr_text().c_str());
  }

  // A stream that ended with [DONE], not with an error event.
  static bool completed(const http_reply& r) {
    return r.status == 200 && r.body.find("data: [DONE]") != std::string::npos &&
           r.body.find("\"error\"") == std::string::npos;
  }

  std::unique_ptr<fake::fake_server> fake_;
  json extra_config_ = json::object();  // merged into every node's configuration
  std::map<std::string, std::uint16_t> cluster_ports_;
  std::map<std::string, node_process> nodes_;
};

TEST_F(cluster_test, the_concurrency_limit_holds_across_three_nodes) {
  start_all({{"max_concurrent", 3}});
  // 12 streams, 4 on each node: each node alone would let 3 run at once, 9 in all.
  EXPECT_EQ(stream_all(12, node_ids), 12);
  EXPECT_EQ(upstream().requests_total.load(), 12u);
  EXPECT_EQ(upstream().peak_open_requests.load(), 3);
  // Each lease goes back just after its client has [DONE].
  for (auto& id : node_ids)
    EXPECT_TRUE(eventually([&] { return pool_view(id)["leases_in_use"] == 0; }, 10s)) << id;
}

TEST_F(cluster_test, the_rpm_window_is_global) {
  start_all({{"rpm", 4}, {"queue_timeout_ms", 300}});
  // Nine requests, three per node, one after another: four in the minute, then refusals.
  int ok = 0;
  int refused = 0;
  for (int i = 0; i < 9; ++i) {
    http_client c{nodes_[node_ids[i % 3]].http_port, 10s};
    auto r = c.request("POST", "/v1/chat/completions", upstream_fixture::chat_body("m"));
    if (completed(r)) ++ok;
    if (r.body.find("quota_exhausted") != std::string::npos) ++refused;
  }
  EXPECT_EQ(ok, 4);
  EXPECT_EQ(refused, 5);
  EXPECT_EQ(upstream().requests_total.load(), 4u);
}

TEST_F(cluster_test, kill_9_of_a_node_releases_its_leases_at_the_owner) {
  start_all({{"max_concurrent", 2}});
  // Two streams on node b that would run for a minute.
  std::vector<std::unique_ptr<http_client>> clients;
  for (int i = 0; i < 2; ++i) {
    clients.push_back(std::make_unique<http_client>(nodes_["b"].http_port, 5s));
    clients.back()->open_stream("POST", "/v1/chat/completions",
                                upstream_fixture::chat_body("long"));
  }
  ASSERT_TRUE(eventually([&] { return pool_view("a")["leases_in_use"] == 2; }, 5s));
  auto killed_at = std::chrono::steady_clock::now();
  nodes_["b"].process->signal(SIGKILL);
  // The owner sees node b's connection drop and releases its leases (docs/cluster.md: at once
  // for a killed process; heartbeat + connection timeout, 3.5 s, for a silent network).
  ASSERT_TRUE(eventually([&] { return pool_view("a")["leases_in_use"] == 0; }, 5s));
  auto took = std::chrono::steady_clock::now() - killed_at;
  EXPECT_LT(took, 3500ms);
  std::printf("leases released %.0f ms after kill -9\n",
              std::chrono::duration<double, std::milli>(took).count());
  // The owner keeps node b's room for the reclaim window (b might be cut off rather than
  // dead, and serving in degraded mode), then gives it to node c's streams, which wait for it.
  auto room_back = std::chrono::steady_clock::now();
  EXPECT_EQ(stream_all(2, {"c"}), 2);
  EXPECT_GE(std::chrono::steady_clock::now() - room_back, 500ms);  // waited for the room
  EXPECT_NE(nodes_["a"].process->stderr_text().find("quota_room_kept"), std::string::npos);
}

TEST_F(cluster_test, the_owner_killed_gives_degraded_mode_then_recovery) {
  // Shares of 3 among three nodes: 1 each. Streams are queued no longer than 200 ms.
  json pool = {{"max_concurrent", 3}, {"queue_timeout_ms", 200}};
  start_all(pool);
  nodes_["a"].process->signal(SIGKILL);
  for (auto& id : {"b", "c"})
    ASSERT_TRUE(eventually(
        [&] { return metric(id, "streamgate_cluster_degraded{pool=\"shared\"}") == 1; }, 5s))
        << id;
  auto before = upstream().requests_total.load();
  // Three at once on node b: its share is one, so one runs and two are refused in time.
  EXPECT_EQ(stream_all(3, {"b"}), 1);
  EXPECT_EQ(upstream().requests_total.load() - before, 1u);
  // Node a comes back on the same port: b and c rejoin, and b may use the whole pool again.
  start("a", config_of("a", pool));
  for (auto& id : node_ids) ASSERT_TRUE(connected_to_owner(id)) << id;
  EXPECT_EQ(stream_all(3, {"b"}), 3);
}

TEST_F(cluster_test, a_node_without_a_certificate_of_the_clusters_ca_cannot_join) {
  json pool = {{"max_concurrent", 3}};
  start("a", config_of("a", pool));
  // "b" with a certificate that another CA signed.
  auto& stranger = start("b", config_of("b", pool, cert_dir() + "/stranger"));
  start("c", config_of("c", pool));
  ASSERT_TRUE(eventually(
      [&] { return metric("c", "streamgate_cluster_peers{state=\"connected\"}") == 1; }, 10s));
  // a dials b (the lower id dials): the TLS handshake fails, a counts b unreachable.
  ASSERT_TRUE(eventually(
      [&] { return metric("a", "streamgate_cluster_peers{state=\"unreachable\"}") == 1; }, 10s));
  EXPECT_EQ(metric("b", "streamgate_cluster_peers{state=\"connected\"}"), 0);
  EXPECT_EQ(metric("b", "streamgate_cluster_degraded{pool=\"shared\"}"), 1);
  (void)stranger;
}

TEST_F(cluster_test, a_node_configured_otherwise_is_refused) {
  json pool = {{"max_concurrent", 3}};
  start("a", config_of("a", pool));
  auto other = config_of("b", pool);
  other["cluster"]["owners"]["shared"] = "b";  // b thinks the pool is its own
  auto& b = start("b", other);
  ASSERT_TRUE(eventually(
      [&] { return b.process->stderr_text().find("configuration differs") != std::string::npos; },
      10s))
      << b.process->stderr_text();
  EXPECT_EQ(metric("a", "streamgate_cluster_peers{state=\"connected\"}"), 0);
}

// What a client assembled from a session's events, checking each seq follows the last.
struct assembled {
  std::uint64_t last_seq = 0;
  std::string text;
  std::string terminal;
  bool in_order = true;

  // One event as the long-poll and WebSocket transports render it.
  void take(const json& ev) {
    auto seq = ev["seq"].get<std::uint64_t>();
    in_order = in_order && seq == last_seq + 1;
    last_seq = seq;
    auto type = ev["type"].get<std::string>();
    if (type == "delta") text += ev["content"].get<std::string>();
    if (type == "done" || type == "error" || type == "cancelled") terminal = type;
  }
};

class cluster_resume : public cluster_test {
 protected:
  void SetUp() override { start_all({{"max_concurrent", 100}}); }

  std::string create_session(const std::string& node, const std::string& model = "m") {
    http_client c{nodes_[node].http_port};
    auto r = c.request("POST", "/v1/sessions", upstream_fixture::chat_body(model));
    EXPECT_EQ(r.status, 201u) << r.body;
    return json::parse(r.body).value("session", "");
  }

  // One long poll on `node`: takes what it returns; the reply's status.
  unsigned poll(const std::string& node, const std::string& session, assembled& a) {
    http_client c{nodes_[node].http_port};
    auto r = c.request("GET", "/v1/sessions/" + session +
                                  "/events?after=" + std::to_string(a.last_seq) + "&wait_ms=2000");
    if (r.status != 200) {
      std::printf("poll on %s: %u %s\n", node.c_str(), r.status, r.body.c_str());
      return r.status;
    }
    auto page = json::parse(r.body);  // kept: a range-for over a temporary's member dangles
    for (auto& ev : page["events"]) a.take(ev);
    return r.status;
  }

  std::string expected_text() {
    auto b = slow_streams();
    return fake::full_text(b.chunks, b.chunk_size);
  }
};

TEST_F(cluster_resume, a_websocket_stream_resumes_exactly_once_through_each_other_node) {
  assembled a;
  auto c = std::make_unique<ws_client>(nodes_["a"].http_port);
  c->send({{"type", "start"},
           {"id", "s"},
           {"request", {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}}}});
  auto started = c->next();
  ASSERT_TRUE(started);
  std::string session = (*started)["session"];
  EXPECT_EQ(session_node(session), "a");
  // Two events on each connection, then a network drop and a resume on the next node.
  int reconnects = 0;
  for (int read = 0; a.terminal.empty();) {
    if (auto m = c->next(); m && (*m)["type"] != "started") {
      a.take(*m);
      if (++read % 2 != 0 || !a.terminal.empty()) continue;
    }
    c->drop();
    ASSERT_LT(++reconnects, 30);
    auto& node = node_ids[reconnects % 3];
    c = std::make_unique<ws_client>(nodes_[node].http_port);
    c->send({{"type", "resume"}, {"id", "r"}, {"session", session}, {"after", a.last_seq}});
    auto ack = c->next();
    ASSERT_TRUE(ack) << node;
    ASSERT_EQ((*ack)["type"], "started") << ack->dump();
  }
  EXPECT_TRUE(a.in_order);
  EXPECT_EQ(a.terminal, "done");
  EXPECT_EQ(a.text, expected_text());
  EXPECT_GE(reconnects, 3);
}

TEST_F(cluster_resume, long_polls_and_an_sse_resume_through_other_nodes_get_each_event_once) {
  auto session = create_session("a");
  assembled a;
  ASSERT_EQ(poll("b", session, a), 200u);
  ASSERT_GT(a.last_seq, 0u);
  {
    // An EventSource that reconnected to node c with the id of the last event it saw.
    http_client c{nodes_["c"].http_port};
    auto head = c.open_stream(
        "GET", "/v1/sessions/" + session + "/events", "",
        {{"Accept", "text/event-stream"}, {"Last-Event-ID", std::to_string(a.last_seq)}});
    ASSERT_EQ(head.status, 200u);
    for (int read = 0; read < 2;) {
      auto ev = c.next_event();
      ASSERT_TRUE(ev);
      if (ev->id.empty()) continue;  // keep-alive or usage
      auto seq = std::stoull(ev->id);
      a.in_order = a.in_order && seq == a.last_seq + 1;
      a.last_seq = seq;
      auto chunk = json::parse(ev->data);
      a.text += chunk["choices"][0]["delta"].value("content", "");
      ++read;
    }
  }
  while (a.terminal.empty()) ASSERT_EQ(poll("b", session, a), 200u);
  EXPECT_TRUE(a.in_order);
  EXPECT_EQ(a.terminal, "done");
  EXPECT_EQ(a.text, expected_text());
}

TEST_F(cluster_resume, a_session_whose_node_is_gone_is_not_found_through_the_others) {
  auto session = create_session("a");
  assembled a;
  ASSERT_EQ(poll("b", session, a), 200u);
  nodes_["a"].process->signal(SIGKILL);
  ASSERT_TRUE(eventually(
      [&] { return metric("b", "streamgate_cluster_peers{state=\"connected\"}") == 1; }, 5s));
  http_client c{nodes_["b"].http_port};
  auto r = c.request("GET", "/v1/sessions/" + session + "/events?after=0");
  EXPECT_EQ(r.status, 404u);
  EXPECT_NE(r.body.find("session_not_found"), std::string::npos) << r.body;
  ws_client w{nodes_["c"].http_port};
  w.send({{"type", "resume"}, {"id", "r"}, {"session", session}, {"after", 0}});
  auto m = w.next();
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["code"], "session_not_found") << m->dump();
}

TEST_F(cluster_resume, an_unknown_session_of_a_live_node_is_not_found_through_the_others) {
  auto session = create_session("a");
  // Same node, an id it never gave out (bound to no key, as anonymous ids are, so that it
  // is node a that answers).
  auto unknown = bind_session_id("sess_00000000000000000000000000000000", "", "a");
  http_client c{nodes_["b"].http_port};
  auto r = c.request("GET", "/v1/sessions/" + unknown + "/events?after=0");
  EXPECT_EQ(r.status, 404u) << r.body;
  EXPECT_NE(r.body.find("session_not_found"), std::string::npos) << r.body;
  (void)session;
}

TEST_F(cluster_resume, a_cancel_through_another_node_ends_the_session_and_its_upstream) {
  auto session = create_session("a", "long");
  ASSERT_TRUE(eventually([&] { return upstream().streams_started.load() == 1; }));
  http_client c{nodes_["c"].http_port};
  auto r = c.request("POST", "/v1/sessions/" + session + "/cancel");
  EXPECT_EQ(r.status, 200u) << r.body;
  assembled a;
  while (a.terminal.empty()) ASSERT_EQ(poll("b", session, a), 200u);
  EXPECT_EQ(a.terminal, "cancelled");
  EXPECT_TRUE(a.in_order);
  // The session's node closed its upstream request.
  EXPECT_TRUE(eventually([&] { return upstream().client_aborts.load() == 1; }));
}

// Gateway keys on every node: a session is its key's on every node.
class cluster_keys : public cluster_resume {
 protected:
  static constexpr const char* alice = "alice-key-0123456789abcdef";
  static constexpr const char* bob = "bob-key-0123456789abcdef00";

  void SetUp() override {
    extra_config_ = {
        {"auth",
         {{"keys",
           {{{"name", "alice"},
             {"sha256", "23d69d3da610e7f91e23b50b107cfec0b09f16cea6153827229614351aaace33"}},
            {{"name", "bob"},
             {"sha256", "db2605583f3d495dacf55addd8d143e586fbecf15a8b85d3fb56e546351693d7"}}}}}}};
    cluster_resume::SetUp();
  }

  static std::map<std::string, std::string> as(const char* key) {
    return {{"Authorization", std::string{"Bearer "} + key}};
  }
};

TEST_F(cluster_keys, another_nodes_session_resumes_and_cancels_only_with_the_key_that_started_it) {
  http_client start{nodes_["a"].http_port};
  auto r = start.request("POST", "/v1/sessions", upstream_fixture::chat_body("long"), as(alice));
  ASSERT_EQ(r.status, 201u) << r.body;
  std::string session = json::parse(r.body)["session"];
  auto events = "/v1/sessions/" + session + "/events?after=0";
  // Bob's key on another node gets what an unknown id gets; so does a cancel.
  EXPECT_EQ(http_client{nodes_["b"].http_port}.request("GET", events, "", as(bob)).status, 404u);
  EXPECT_EQ(http_client{nodes_["c"].http_port}
                .request("POST", "/v1/sessions/" + session + "/cancel", "", as(bob))
                .status,
            404u);
  // Alice's key there is served, and cancels.
  EXPECT_EQ(http_client{nodes_["b"].http_port}
                .request("GET", events + "&wait_ms=2000", "", as(alice))
                .status,
            200u);
  EXPECT_EQ(http_client{nodes_["c"].http_port}
                .request("POST", "/v1/sessions/" + session + "/cancel", "", as(alice))
                .status,
            200u);
  EXPECT_TRUE(eventually([&] { return upstream().client_aborts.load() == 1; }));
}

// A client's buffer (http.max_pending_bytes) far smaller than the log it resumes.
class cluster_paging : public cluster_resume {
 protected:
  void SetUp() override {
    extra_config_ = {{"http", {{"max_pending_bytes", 16384}}}};
    cluster_resume::SetUp();
  }
};

TEST_F(cluster_paging, an_sse_resume_of_a_long_log_through_another_node_is_paged_not_dropped) {
  auto session = create_session("a", "big");
  ASSERT_TRUE(eventually([&] { return upstream().streams_completed.load() == 1; }, 10s));
  http_client c{nodes_["b"].http_port, 20s};
  auto head = c.open_stream("GET", "/v1/sessions/" + session + "/events", "",
                            {{"Accept", "text/event-stream"}, {"Last-Event-ID", "0"}});
  ASSERT_EQ(head.status, 200u);
  std::uint64_t last = 0;
  std::size_t bytes = 0;
  bool in_order = true;
  bool done = false;
  while (auto ev = c.next_event()) {
    if (ev->data == "[DONE]") {
      done = true;
      break;
    }
    if (ev->id.empty()) continue;
    auto seq = std::stoull(ev->id);
    in_order = in_order && seq == last + 1;
    last = seq;
    auto chunk = json::parse(ev->data);
    auto& choices = chunk["choices"];
    if (choices.is_array() && !choices.empty() && choices[0]["delta"].is_object())
      bytes += choices[0]["delta"].value("content", "").size();
  }
  EXPECT_TRUE(done);
  EXPECT_TRUE(in_order);
  EXPECT_EQ(bytes, 3000u * 200u);  // 600 kB through a 16 KiB buffer
}

}  // namespace
}  // namespace streamgate::test
