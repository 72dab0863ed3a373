#include "providers/http/curl_driver.hpp"

#include "providers/http/curl_asio_loop.hpp"
#include "providers/http/curl_thread_loop.hpp"

#include <utility>

namespace streamgate {

// The driver's parts, each in a file of its own: curl_multi (the multi handle and its
// transfers), curl_loop (what runs it, and the commands posted to it), curl_thread_loop
// (on a thread of its own), curl_asio_loop (on an io_context).

curl_driver::curl_driver() {
  auto l = std::make_shared<curl_thread_loop>();
  l->begin();
  loop_ = std::move(l);
}

curl_driver::curl_driver(std::shared_ptr<boost::asio::io_context> io) {
  auto l = std::make_shared<curl_asio_loop>(std::move(io));
  l->begin();
  loop_ = std::move(l);
}

curl_driver::~curl_driver() {
  loop_->stop();
}

transfer_id curl_driver::start(upstream_request request, transfer_callback on_event) {
  auto id = next_id_.fetch_add(1, std::memory_order_relaxed);
  auto t = std::make_unique<curl_multi::transfer>(std::move(request), std::move(on_event));
  t->id = id;
  loop_->post(curl_loop::command{std::move(t), 0, {}});
  return id;
}

void curl_driver::cancel(transfer_id id) {
  loop_->post(curl_loop::command{nullptr, id, curl_multi::clock_type::now()});
}

}  // namespace streamgate
