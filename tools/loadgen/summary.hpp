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
  // How the stream ended, as the client saw it: `done`, `cancelled`, the code of a terminal
  // error or of a refusal (docs/protocol.md), or what the client met instead of a terminal
  // event: `no_terminal` (the stream ended or broke without one, resumes used up),
  // `connect_failed`, `timeout` (--timeout-s), `abandoned` (--max-duration-s), or
  // `http_<status>` / `closed_<ws code>` when the server's answer named no code.
  std::string outcome;
  unsigned terminals = 0;  // terminal events seen: more than one is a broken promise
  unsigned resumes = 0;
  unsigned connections = 0;  // connections this stream opened (--keep-alive: 0 on a kept one)
  unsigned seq_errors = 0;   // events whose seq was not above the last one seen
  bool text_checked = false;
  bool text_ok = true;
  std::string text_problem;  // the session and where the text first differs
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
  unsigned connections_opened() const;

  // Fields the bench scripts read: ok, failed, errors, ttft_ms, gap_ms, duration_ms,
  // cancel_ack_ms, cancel_upstream_ms (each {n, mean, p50, p90, p99, p99_9, max}); and the
  // chaos script's: outcomes (by code), multiple_terminals, resumed_streams, resumes,
  // seq_errors, text_checked, text_mismatches, text_problems (the first few).
  nlohmann::json to_json() const;
  std::string table() const;

 private:
  std::vector<stream_result> results_;
  std::vector<double> cancel_upstream_ms_;
};

}  // namespace streamgate::loadgen
