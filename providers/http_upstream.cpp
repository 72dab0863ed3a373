#include "providers/http_upstream.hpp"

#include "actors/error_code.hpp"
#include "actors/event_log.hpp"
#include "providers/http/curl_driver.hpp"
#include "providers/upstream_count.hpp"
#include "telemetry/log.hpp"

#include <chrono>
#include <vector>

namespace streamgate {
namespace {

std::int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

struct http_upstream::record {
  transfer_id id = 0;
  std::uint32_t attempt = 0;
  std::function<void(stream_event)> on_terminal;
  upstream_count count;
  std::atomic<bool> ended{false};
  std::atomic<bool> streamed{false};  // a delta went into the log
};

class http_upstream::handle final : public upstream_transfer {
 public:
  handle(std::shared_ptr<http_upstream> owner, std::shared_ptr<record> r)
      : owner_(std::move(owner)), record_(std::move(r)) {}
  ~handle() override { cancel(); }
  void cancel() override {
    // Once the terminal event went out there is nothing to cancel, and cancelling would only
    // spoil a connection curl is about to reuse.
    if (owner_->claim(*record_)) owner_->driver_->cancel(record_->id);
  }

 private:
  std::shared_ptr<http_upstream> owner_;
  std::shared_ptr<record> record_;
};

http_upstream::http_upstream(http_provider_config config, std::shared_ptr<transfer_runner> driver,
                             std::atomic<std::int64_t>* upstreams)
    : config_(std::move(config)), driver_(std::move(driver)), upstreams_(upstreams) {}

std::unique_ptr<upstream_transfer> http_upstream::open(const chat_request& request,
                                                       upstream_lane lane) {
  auto r = std::make_shared<record>();
  r->attempt = lane.attempt;
  r->on_terminal = std::move(lane.on_terminal);
  auto req = build_request(config_, request, wall_clock_ms());
  std::lock_guard<std::mutex> lock{mu_};
  if (closed_) return nullptr;
  r->count = upstream_count{upstreams_};
  // The record must be in live_ before the transfer can end: an end on the driver's thread
  // waits for mu_ in claim() until this returns. So start() must not call back before it
  // returns, which no runner does (the curl driver posts the start to its thread).
  r->id = driver_->start(std::move(req), [weak = weak_from_this(), r, log = std::move(lane.log),
                                          provider = config_.name](stream_event ev) {
    if (!ev.terminal()) {
      r->streamed.store(true, std::memory_order_relaxed);
      log->append_from_upstream(r->attempt, std::move(ev));
      return;
    }
    auto self = weak.lock();
    if (!self || !self->claim(*r)) return;
    // The text was scrubbed of the key and is what the client sees anyway.
    if (ev.kind == event_kind::error)
      log::warn("upstream_failed", {{"provider", provider},
                                    {"attempt", r->attempt},
                                    {"code", ev.code},
                                    {"message", ev.text}});
    r->on_terminal(std::move(ev));
  });
  live_.emplace(r->id, r);
  return std::make_unique<handle>(shared_from_this(), std::move(r));
}

bool http_upstream::claim(record& r) {
  if (r.ended.exchange(true)) return false;
  // Before the terminal event leaves: the session hands its lease on at that event, and the
  // gauge must never lag the leases.
  r.count.release();
  std::lock_guard<std::mutex> lock{mu_};
  live_.erase(r.id);
  return true;
}

void http_upstream::close(const std::string& why) {
  std::vector<std::shared_ptr<record>> running;
  {
    std::lock_guard<std::mutex> lock{mu_};
    closed_ = true;
    for (auto& entry : live_) running.push_back(entry.second);
  }
  for (auto& r : running) {
    if (!claim(*r)) continue;
    driver_->cancel(r->id);
    auto streamed = r->streamed.load(std::memory_order_relaxed);
    r->on_terminal(stream_event::make_error(
        std::string{streamed ? error_code::upstream_interrupted : error_code::upstream_error},
        "provider '" + config_.name + "' stopped: " + why));
  }
}

std::size_t http_upstream::live() const {
  std::lock_guard<std::mutex> lock{mu_};
  return live_.size();
}

}  // namespace streamgate
