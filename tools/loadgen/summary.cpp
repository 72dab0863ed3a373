#include "tools/loadgen/summary.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace streamgate::loadgen {

distribution distribution_of(std::vector<double> s) {
  distribution d;
  if (s.empty()) return d;
  std::sort(s.begin(), s.end());
  d.n = s.size();
  double sum = 0;
  for (double x : s) sum += x;
  d.mean = sum / static_cast<double>(d.n);
  auto rank = [&](double q) {
    auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(d.n)));
    return s[std::min(d.n - 1, i == 0 ? 0 : i - 1)];
  };
  d.p50 = rank(0.5);
  d.p90 = rank(0.9);
  d.p99 = rank(0.99);
  d.p999 = rank(0.999);
  d.max = s.back();
  return d;
}

void summary::add(stream_result r) {
  results_.push_back(std::move(r));
}

unsigned summary::connections_opened() const {
  unsigned n = 0;
  for (auto& r : results_) n += r.connections;
  return n;
}

namespace {

nlohmann::json json_of(const distribution& d) {
  if (d.n == 0) return nullptr;
  return {{"n", d.n},     {"mean", d.mean},  {"p50", d.p50}, {"p90", d.p90},
          {"p99", d.p99}, {"p99_9", d.p999}, {"max", d.max}};
}

}  // namespace

nlohmann::json summary::to_json() const {
  std::vector<double> ttft, gaps, duration, ack;
  std::map<std::string, unsigned> errors, outcomes;
  unsigned ok = 0, multiple = 0, resumed = 0, resumes = 0, seq_errors = 0, checked = 0,
           mismatches = 0;
  auto problems = nlohmann::json::array();
  for (auto& r : results_) {
    ++outcomes[r.outcome.empty() ? "no_terminal" : r.outcome];
    multiple += r.terminals > 1;
    resumed += r.resumes > 0;
    resumes += r.resumes;
    seq_errors += r.seq_errors;
    checked += r.text_checked;
    if (r.text_checked && !r.text_ok) {
      ++mismatches;
      if (problems.size() < 5) problems.push_back(r.text_problem);
    }
    if (r.ok)
      ++ok;
    else
      ++errors[!r.error.empty() ? r.error : !r.outcome.empty() ? r.outcome : "unknown"];
    if (r.ttft_ms >= 0) ttft.push_back(r.ttft_ms);
    gaps.insert(gaps.end(), r.gaps_ms.begin(), r.gaps_ms.end());
    if (r.ok && r.duration_ms >= 0 && !r.cancel_sent) duration.push_back(r.duration_ms);
    if (r.cancel_ack_ms >= 0) ack.push_back(r.cancel_ack_ms);
  }
  return {{"streams", results_.size()},
          {"ok", ok},
          {"failed", results_.size() - ok},
          {"errors", errors},
          {"ttft_ms", json_of(distribution_of(ttft))},
          {"gap_ms", json_of(distribution_of(gaps))},
          {"duration_ms", json_of(distribution_of(duration))},
          {"cancel_ack_ms", json_of(distribution_of(ack))},
          {"cancel_upstream_ms", json_of(distribution_of(cancel_upstream_ms_))},
          {"outcomes", outcomes},
          {"multiple_terminals", multiple},
          {"resumed_streams", resumed},
          {"resumes", resumes},
          {"seq_errors", seq_errors},
          {"text_checked", checked},
          {"text_mismatches", mismatches},
          {"text_problems", problems}};
}

std::string summary::table() const {
  auto j = to_json();
  std::string out;
  char line[200];
  std::snprintf(line, sizeof line, "streams %zu  ok %u  failed %u\n",
                j["streams"].get<std::size_t>(), j["ok"].get<unsigned>(),
                j["failed"].get<unsigned>());
  out += line;
  for (auto& [msg, n] : j["errors"].items())
    out += "  error x" + std::to_string(n.get<unsigned>()) + ": " + msg + "\n";
  std::snprintf(line, sizeof line, "%-20s %8s %9s %9s %9s %9s %9s %9s\n", "ms", "n", "mean", "p50",
                "p90", "p99", "p99.9", "max");
  out += line;
  for (auto* name : {"ttft_ms", "gap_ms", "duration_ms", "cancel_ack_ms", "cancel_upstream_ms"}) {
    auto& d = j[name];
    if (d.is_null()) continue;
    std::snprintf(line, sizeof line, "%-20s %8zu %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f\n", name,
                  d["n"].get<std::size_t>(), d["mean"].get<double>(), d["p50"].get<double>(),
                  d["p90"].get<double>(), d["p99"].get<double>(), d["p99_9"].get<double>(),
                  d["max"].get<double>());
    out += line;
  }
  return out;
}

}  // namespace streamgate::loadgen
