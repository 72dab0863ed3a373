// The Prometheus text exposition format (version 0.0.4), checked line by line.

#include "telemetry/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <sstream>
#include <thread>

namespace streamgate::metrics {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(metrics, counter_with_labels_renders_help_type_and_one_sample_per_child) {
  registry r;
  auto& f =
      r.add_counter("sg_test_requests_total", "Requests by outcome", {"transport", "outcome"});
  f.with({"sse", "ok"}).inc();
  f.with({"sse", "ok"}).inc(2);
  f.with({"ws", "upstream_error"}).inc();
  auto text = r.expose();
  EXPECT_EQ(text,
            "# HELP sg_test_requests_total Requests by outcome\n"
            "# TYPE sg_test_requests_total counter\n"
            "sg_test_requests_total{transport=\"sse\",outcome=\"ok\"} 3\n"
            "sg_test_requests_total{transport=\"ws\",outcome=\"upstream_error\"} 1\n");
  EXPECT_EQ(text.back(), '\n');
}

TEST(metrics, gauge_without_labels_has_no_braces_and_goes_down) {
  registry r;
  auto& g = r.add_gauge("sg_test_active", "Active things").with({});
  g.inc(5);
  g.dec(2);
  EXPECT_EQ(g.value(), 3);
  EXPECT_EQ(r.expose(),
            "# HELP sg_test_active Active things\n# TYPE sg_test_active gauge\n"
            "sg_test_active 3\n");
  g.set(-1);
  EXPECT_NE(r.expose().find("sg_test_active -1\n"), std::string::npos);
}

TEST(metrics, histogram_buckets_are_cumulative_with_inf_sum_and_count) {
  registry r;
  auto& h = r.add_histogram("sg_test_latency_seconds", "Latency", {"provider"}, {0.1, 0.5, 1});
  auto& c = h.with({"p"});
  c.observe(0.05);
  c.observe(0.1);  // on the bound: belongs to le="0.1"
  c.observe(0.3);
  c.observe(7);
  EXPECT_EQ(r.expose(),
            "# HELP sg_test_latency_seconds Latency\n"
            "# TYPE sg_test_latency_seconds histogram\n"
            "sg_test_latency_seconds_bucket{provider=\"p\",le=\"0.1\"} 2\n"
            "sg_test_latency_seconds_bucket{provider=\"p\",le=\"0.5\"} 3\n"
            "sg_test_latency_seconds_bucket{provider=\"p\",le=\"1\"} 3\n"
            "sg_test_latency_seconds_bucket{provider=\"p\",le=\"+Inf\"} 4\n"
            "sg_test_latency_seconds_sum{provider=\"p\"} 7.45\n"
            "sg_test_latency_seconds_count{provider=\"p\"} 4\n");
}

TEST(metrics, histogram_without_labels_puts_only_le_in_braces) {
  registry r;
  r.add_histogram("sg_test_h_seconds", "H", {}, {1}).with({}).observe(2);
  auto text = r.expose();
  EXPECT_NE(text.find("sg_test_h_seconds_bucket{le=\"1\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("sg_test_h_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("sg_test_h_seconds_sum 2\n"), std::string::npos);
  EXPECT_NE(text.find("sg_test_h_seconds_count 1\n"), std::string::npos);
}

TEST(metrics, label_values_and_help_are_escaped) {
  registry r;
  r.add_counter("sg_test_esc_total", "a \\ b\nc", {"model"}).with({"we\"ird\\\nname"}).inc();
  auto text = r.expose();
  EXPECT_NE(text.find("# HELP sg_test_esc_total a \\\\ b\\nc\n"), std::string::npos);
  EXPECT_NE(text.find("sg_test_esc_total{model=\"we\\\"ird\\\\\\nname\"} 1\n"), std::string::npos);
}

TEST(metrics, every_line_matches_the_exposition_grammar) {
  registry r;
  r.add_counter("sg_a_total", "A", {"x"}).with({"1"}).inc();
  r.add_gauge("sg_b", "B", {"y", "z"}).with({"2", "3"}).set(4);
  r.add_histogram("sg_c_seconds", "C", {"p"}, latency_buckets()).with({"q"}).observe(0.002);
  r.add_callback_gauge("sg_d", "D", [] { return 1.5; });
  std::regex comment{R"(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*)"};
  std::regex sample{R"([a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? )"
                    R"((-?[0-9.eE+-]+|\+Inf|-Inf|NaN))"};
  auto lines = lines_of(r.expose());
  ASSERT_GT(lines.size(), 20u);
  for (auto& l : lines)
    EXPECT_TRUE(std::regex_match(l, comment) || std::regex_match(l, sample)) << l;
}

TEST(metrics, values_are_formatted_as_prometheus_expects) {
  EXPECT_EQ(format_value(1), "1");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(metrics, bad_declarations_are_refused) {
  registry r;
  r.add_counter("sg_dup_total", "x");
  EXPECT_THROW(r.add_counter("sg_dup_total", "x"), std::invalid_argument);
  EXPECT_THROW(r.add_gauge("9starts_with_digit", "x"), std::invalid_argument);
  EXPECT_THROW(r.add_gauge("has-dash", "x"), std::invalid_argument);
  EXPECT_THROW(r.add_gauge("sg_ok", "x", {"le"}), std::invalid_argument);
  EXPECT_THROW(r.add_gauge("sg_ok2", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.add_histogram("sg_h", "x", {}, {1, 0.5}), std::invalid_argument);
  auto& f = r.add_counter("sg_l_total", "x", {"a", "b"});
  EXPECT_THROW(f.with({"only one"}), std::invalid_argument);
}

TEST(metrics, unbounded_label_values_collapse_into_other) {
  registry r;
  auto& f = r.add_counter("sg_many_total", "x", {"id"});
  for (std::size_t i = 0; i < counter_family::max_children + 10; ++i)
    f.with({std::to_string(i)}).inc();
  std::size_t children = 0;
  std::uint64_t other = 0;
  f.each([&](const label_values& v, const counter& c) {
    ++children;
    if (v[0] == "other") other = c.value();
  });
  EXPECT_EQ(children, counter_family::max_children + 1);
  EXPECT_EQ(other, 10u);
}

TEST(metrics, callback_gauges_are_read_at_scrape_and_can_be_removed) {
  registry r;
  double v = 1;
  auto id = r.add_callback_gauge("sg_cb", "cb", [&] { return v; });
  v = 42;
  EXPECT_NE(r.expose().find("sg_cb 42\n"), std::string::npos);
  // A second owner of the same name (another server in the process) takes it over.
  auto id2 = r.add_callback_gauge("sg_cb", "cb", [] { return 7.0; });
  EXPECT_NE(r.expose().find("sg_cb 7\n"), std::string::npos);
  r.remove_callback_gauge(id);  // stale id: no effect
  EXPECT_NE(r.expose().find("sg_cb 7\n"), std::string::npos);
  r.remove_callback_gauge(id2);
  EXPECT_EQ(r.expose().find("sg_cb"), std::string::npos);
}

TEST(metrics, concurrent_updates_from_many_threads_are_all_counted) {
  registry r;
  auto& c = r.add_counter("sg_mt_total", "x", {"t"});
  auto& h = r.add_histogram("sg_mt_seconds", "x", {}, {0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.with({"same"}).inc();
        h.with({}).observe(i % 2 ? 1.0 : 0.25);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.with({"same"}).value(), 80000u);
  auto s = h.with({}).read();
  EXPECT_EQ(s.count, 80000u);
  EXPECT_EQ(s.cumulative[0], 40000u);
  EXPECT_DOUBLE_EQ(s.sum, 40000 * 1.25);
}

}  // namespace
}  // namespace streamgate::metrics
