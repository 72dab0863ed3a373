#pragma once

#include "tools/loadgen/options.hpp"
#include "tools/loadgen/summary.hpp"

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <vector>

namespace streamgate::loadgen {

// Watches the fake upstream's GET /stats (client_aborts) back to back on one keep-alive
// connection, to time how long after a cancel the upstream saw its connection close. The
// k-th close is matched to the k-th cancel, so the figure is exact in distribution and
// within one /stats round trip (tens of microseconds on loopback) per sample.
class upstream_watch {
 public:
  upstream_watch(boost::asio::io_context& ioc, endpoint stats);
  ~upstream_watch();
  void start();
  // Keeps watching until the upstream saw a close per cancel (or 3 s passed), then calls
  // `done` with each matched cancel's latency in ms.
  void finish(std::vector<clock_type::time_point> cancels,
              std::function<void(std::vector<double>)> done);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

// The matching itself: the k-th sorted cancel against the first sample that shows k+1
// closes over `base`. Samples are (time, client_aborts), in time order.
std::vector<double> match_closes(
    std::vector<clock_type::time_point> cancels,
    const std::vector<std::pair<clock_type::time_point, std::uint64_t>>& samples,
    std::uint64_t base);

}  // namespace streamgate::loadgen
