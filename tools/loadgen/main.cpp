// loadgen: drives N concurrent streams over SSE, WebSocket or long-poll and prints what they
// measured (TTFT, inter-chunk gap, duration, cancel latency) as percentiles. Event-driven on
// Asio, so at a thousand streams it stays cheap next to what it measures. Bounded in count
// (--requests) and time (--max-duration-s, --timeout-s); loopback only unless told otherwise.

#include "tools/loadgen/stream_client.hpp"
#include "tools/loadgen/upstream_watch.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/resource.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

namespace {

using namespace streamgate::loadgen;
namespace net = boost::asio;

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto tv = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(u.ru_utime) + tv(u.ru_stime);
}

clock_type::duration seconds(double s) {
  return std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s));
}

void run_io(net::io_context& ioc, unsigned threads) {
  std::vector<std::thread> extra;
  for (unsigned i = 1; i < threads; ++i) extra.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : extra) t.join();
}

// Starts streams (closed loop: `concurrency` in flight; open loop: `rate` per second) until
// `requests` have run or the run's time bound passes.
class stream_runner {
 public:
  stream_runner(net::io_context& ioc, const run_context& ctx, upstream_watch* watch)
      : ioc_(ioc), ctx_(ctx), o_(ctx.opts), watch_(watch), deadline_(ioc), pacer_(ioc) {}

  summary run() {
    auto t0 = clock_type::now();
    deadline_.expires_at(t0 + seconds(o_.max_duration_s));
    deadline_.async_wait([this](boost::system::error_code ec) {
      if (!ec) stop(true);
    });
    if (watch_) watch_->start();
    if (o_.requests == 0) {
      stop(false);
    } else if (o_.rate > 0) {
      pace(t0, 0, o_.requests, 1 / o_.rate);
    } else if (o_.ramp_s > 0) {
      // Closed loop with a ramp: a thousand clients rarely press Enter in the same
      // microsecond, and a burst measures the start-up storm, not the steady state.
      auto slots = std::min(o_.concurrency, o_.requests);
      pace(t0, 0, slots, o_.ramp_s / slots);
    } else {
      for (unsigned i = 0; i < std::min(o_.concurrency, o_.requests); ++i) launch();
    }
    run_io(ioc_, o_.threads);
    std::lock_guard<std::mutex> guard{mutex_};
    for (unsigned i = finished_; i < started_; ++i) {
      stream_result r;
      r.error = "abandoned at --max-duration-s";
      r.outcome = "abandoned";
      sum_.add(std::move(r));
    }
    return std::move(sum_);
  }

 private:
  // `slot` (--keep-alive): the connection of the closed-loop client whose stream just ended;
  // a new client gets a new one.
  void launch(std::shared_ptr<kept_connection> slot = nullptr) {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (stopping_ || started_ >= o_.requests) return;
      ++started_;
    }
    if (o_.keep_alive && !slot) slot = make_kept_connection();
    start_stream(
        ioc_, ctx_, [this, slot](stream_result r) { on_done(std::move(r), slot); }, slot);
  }

  void on_done(stream_result r, std::shared_ptr<kept_connection> slot) {
    bool all_done = false;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (r.cancel_sent) cancels_.push_back(r.cancel_at);
      sum_.add(std::move(r));
      all_done = ++finished_ == o_.requests;
    }
    if (all_done) return stop(false);
    if (o_.rate == 0) launch(std::move(slot));
  }

  // Stream i of `count` starts at t0 + i * interval whatever happened to the earlier ones
  // (open loop, or a closed loop's ramp).
  void pace(clock_type::time_point t0, unsigned i, unsigned count, double interval) {
    if (i >= count) return;
    pacer_.expires_at(t0 + seconds(i * interval));
    pacer_.async_wait([this, t0, i, count, interval](boost::system::error_code ec) {
      if (ec) return;
      launch();
      pace(t0, i + 1, count, interval);
    });
  }

  void stop(bool timed_out) {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (stopping_) return;
      stopping_ = true;
    }
    deadline_.cancel();
    pacer_.cancel();
    if (watch_ && !timed_out) {
      // Let the upstream report the closes of the last cancels, then stop.
      std::vector<clock_type::time_point> cancels;
      {
        std::lock_guard<std::mutex> guard{mutex_};
        cancels = cancels_;
      }
      watch_->finish(cancels, [this, cancels](std::vector<double> ms) {
        std::lock_guard<std::mutex> guard{mutex_};
        for (double m : ms) sum_.add_cancel_upstream_ms(m);
        ioc_.stop();
      });
      return;
    }
    ioc_.stop();
  }

  net::io_context& ioc_;
  const run_context& ctx_;
  const options& o_;
  upstream_watch* watch_;
  net::steady_timer deadline_;
  net::steady_timer pacer_;
  std::mutex mutex_;
  summary sum_;
  unsigned started_ = 0;
  unsigned finished_ = 0;
  bool stopping_ = false;
  std::vector<clock_type::time_point> cancels_;
};

// Opens --idle-connections sockets (a bounded number of handshakes at a time), holds them for
// --hold-s, closes them.
nlohmann::json run_idle(net::io_context& ioc, const run_context& ctx) {
  auto& o = ctx.opts;
  idle_pool pool{ioc, ctx};
  unsigned started = 0, opened = 0, failed = 0;
  constexpr unsigned in_flight_max = 256;
  auto t0 = clock_type::now();
  double open_s = 0;
  net::steady_timer hold{ioc};
  std::function<void()> next;
  next = [&] {
    if (started >= o.idle_connections) return;
    ++started;
    pool.open_one([&](bool ok) {
      ++(ok ? opened : failed);
      if (opened + failed == o.idle_connections) {
        open_s = std::chrono::duration<double>(clock_type::now() - t0).count();
        hold.expires_after(seconds(o.hold_s));
        hold.async_wait([&](boost::system::error_code) {
          pool.close_all();
          ioc.stop();
        });
        return;
      }
      next();
    });
  };
  for (unsigned i = 0; i < std::min(in_flight_max, o.idle_connections); ++i) next();
  if (o.idle_connections == 0) return {};
  ioc.run();  // idle mode is single-threaded: the callbacks above share plain counters
  return {
      {"sockets", o.idle_connections}, {"open", opened}, {"failed", failed}, {"open_s", open_s}};
}

}  // namespace

int main(int argc, char** argv) {
  options opts;
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    for (auto& a : args) {
      if (a == "--help" || a == "-h") {
        std::cout << usage_text();
        return 0;
      }
    }
    opts = parse_options(args);
  } catch (const usage_error& e) {
    std::cerr << "loadgen: " << e.what() << "\n" << usage_text();
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  run_context ctx{opts};
  net::io_context ioc;
  auto wall0 = clock_type::now();
  nlohmann::json out;
  if (opts.idle_connections > 0) {
    out = run_idle(ioc, ctx);
    std::cout << "idle " << to_string(opts.proto) << " sockets: " << out["open"] << " open, "
              << out["failed"] << " failed (opened in " << out["open_s"] << " s)\n";
  } else {
    std::unique_ptr<upstream_watch> watch;
    if (opts.upstream_stats) watch = std::make_unique<upstream_watch>(ioc, *opts.upstream_stats);
    stream_runner runner{ioc, ctx, watch.get()};
    auto sum = runner.run();
    out = sum.to_json();
    std::cout << sum.table();
    if (opts.keep_alive) {
      // Reuse shows as fewer connections than streams: one per slot when the server kept each.
      out["connections_opened"] = sum.connections_opened();
      std::cout << "connections opened " << sum.connections_opened() << " for "
                << sum.results().size() << " streams (--keep-alive)\n";
    }
  }
  out["protocol"] = to_string(opts.proto);
  out["concurrency"] = opts.concurrency;
  out["rate"] = opts.rate;
  out["cpu_s"] = cpu_seconds();
  out["wall_s"] = std::chrono::duration<double>(clock_type::now() - wall0).count();
  std::cout << "loadgen cpu " << out["cpu_s"] << " s, wall " << out["wall_s"] << " s\n";
  if (!opts.json_file.empty()) {
    std::ofstream f{opts.json_file};
    f << out.dump(1) << "\n";
    if (!f) {
      std::cerr << "loadgen: cannot write " << opts.json_file << "\n";
      return 1;
    }
  }
  return out.value("failed", 0u) == 0 ? 0 : 3;
}
