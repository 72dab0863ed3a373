#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace streamgate::loadgen {

using clock_type = std::chrono::steady_clock;

// What one stream measured. Times in milliseconds; negative means "not reached".
struct stream_result {
  bool ok = false;  // complete stream, or (with --cancel-after) the cancel went through
  std::string error;
  double ttft_ms = -1;
  std::vector<double> gaps_ms;
  double duration_ms = -1;
  double cancel_ack_ms = -1;
  bool cancel_sent = false;
  clock_type::time_point cancel_at;
  unsigned deltas = 0;
};

// p50, p90, p99, p99.9 and max of a sample set (nearest rank), plus count and mean.
struct distribution {
  std::size_t n = 0;
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
};
distribution distribution_of(std::vector<double> samples);

// Everything a run measured, merged from its streams.
class summary {
 public:
  void add(stream_result r);
  void add_cancel_upstream_ms(double ms) { cancel_upstream_ms_.push_back(ms); }
  const std::vector<stream_result>& results() const { return results_; }

  // Fields the bench scripts read: ok, failed, errors, ttft_ms, gap_ms, duration_ms,
  // cancel_ack_ms, cancel_upstream_ms (each {n, mean, p50, p90, p99, p99_9, max}).
  nlohmann::json to_json() const;
  std::string table() const;

 private:
  std::vector<stream_result> results_;
  std::vector<double> cancel_upstream_ms_;
};

}  // namespace streamgate::loadgen
