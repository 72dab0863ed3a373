#include "tools/loadgen/upstream_watch.hpp"

#include "tools/loadgen/stream_base.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace streamgate::loadgen {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

std::vector<double> match_closes(
    std::vector<clock_type::time_point> cancels,
    const std::vector<std::pair<clock_type::time_point, std::uint64_t>>& samples,
    std::uint64_t base) {
  std::sort(cancels.begin(), cancels.end());
  std::vector<double> out;
  std::size_t s = 0;
  for (std::size_t k = 0; k < cancels.size(); ++k) {
    while (s < samples.size() && samples[s].second < base + k + 1) ++s;
    if (s == samples.size()) break;
    out.push_back(std::max(0.0, ms_since(cancels[k], samples[s].first)));
  }
  return out;
}

struct upstream_watch::impl : std::enable_shared_from_this<impl> {
  impl(net::io_context& ioc, endpoint e) : stream(net::make_strand(ioc)), target(std::move(e)) {}

  beast::tcp_stream stream;
  endpoint target;
  beast::flat_buffer buf;
  http::request<http::string_body> req;
  http::response<http::string_body> res;
  bool have_base = false;
  std::uint64_t base = 0;
  std::vector<std::pair<clock_type::time_point, std::uint64_t>> samples;
  std::vector<clock_type::time_point> cancels;
  std::function<void(std::vector<double>)> done;
  clock_type::time_point give_up;
  bool stopped = false;

  void connect() {
    stream.expires_after(std::chrono::seconds(5));
    stream.async_connect(endpoint_of(target), [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->report();
      self->ask();
    });
  }

  void ask() {
    req = {http::verb::get, target.path + "/stats", 11};
    req.set(http::field::host, target.host);
    stream.expires_after(std::chrono::seconds(5));
    http::async_write(stream, req, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->report();
      self->res = {};
      http::async_read(self->stream, self->buf, self->res,
                       [self](beast::error_code ec, std::size_t) {
                         if (ec) return self->report();
                         self->on_stats();
                       });
    });
  }

  void on_stats() {
    auto now = clock_type::now();
    auto j = nlohmann::json::parse(res.body(), nullptr, false);
    if (!j.is_object()) return report();
    auto aborts = j.value("client_aborts", std::uint64_t{0});
    if (!have_base) {
      have_base = true;
      base = aborts;
    }
    if (samples.empty() || samples.back().second != aborts) samples.emplace_back(now, aborts);
    if (done && (aborts - base >= cancels.size() || now > give_up)) return report();
    if (!stopped) ask();
  }

  // Hands the matched latencies over once (also when the watch broke: what it saw so far).
  void report() {
    stopped = true;
    if (!done) return;
    auto d = std::move(done);
    done = nullptr;
    beast::error_code ec;
    stream.socket().close(ec);
    d(match_closes(cancels, samples, base));
  }
};

upstream_watch::upstream_watch(net::io_context& ioc, endpoint stats)
    : impl_(std::make_shared<impl>(ioc, std::move(stats))) {}

upstream_watch::~upstream_watch() = default;

void upstream_watch::start() {
  impl_->connect();
}

void upstream_watch::finish(std::vector<clock_type::time_point> cancels,
                            std::function<void(std::vector<double>)> done) {
  net::post(impl_->stream.get_executor(),
            [self = impl_, cancels = std::move(cancels), done = std::move(done)]() mutable {
              self->cancels = std::move(cancels);
              self->done = std::move(done);
              self->give_up = clock_type::now() + std::chrono::seconds(3);
              if (self->stopped) self->report();
            });
}

}  // namespace streamgate::loadgen
