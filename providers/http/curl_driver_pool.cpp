#include "providers/http/curl_driver_pool.hpp"

#include <algorithm>
#include <stdexcept>

namespace streamgate {

curl_driver_pool::curl_driver_pool(std::size_t threads) {
  drivers_.resize(std::max<std::size_t>(threads, 1));
  for (auto& d : drivers_) d = std::make_unique<curl_driver>();
}

curl_driver_pool::curl_driver_pool(std::vector<std::shared_ptr<boost::asio::io_context>> loops) {
  if (loops.empty()) throw std::invalid_argument("a curl driver pool needs at least one loop");
  drivers_.reserve(loops.size());
  for (auto& io : loops) drivers_.push_back(std::make_unique<curl_driver>(std::move(io)));
}

// A pool id is the driver's own id times the pool size plus the driver's index, so cancel
// finds the driver without a table shared between threads.
transfer_id curl_driver_pool::start(upstream_request request, transfer_callback on_event) {
  auto n = drivers_.size();
  auto i = request.io_loop >= 0 ? static_cast<std::size_t>(request.io_loop) % n
                                : next_.fetch_add(1, std::memory_order_relaxed) % n;
  return drivers_[i]->start(std::move(request), std::move(on_event)) * n + i;
}

void curl_driver_pool::cancel(transfer_id id) {
  auto n = drivers_.size();
  drivers_[id % n]->cancel(id / n);
}

}  // namespace streamgate
