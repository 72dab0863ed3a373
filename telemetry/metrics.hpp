#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

// Prometheus metrics written once: counters, gauges and histograms with labels, rendered in
// the text exposition format (version 0.0.4) by registry::expose().
//
// The hot path never takes a lock: a labelled child is looked up once (a shared lock on its
// family) and then updated through atomic cells. Counters and histograms are striped across
// a few cache-line-sized shards picked per thread, so threads that count the same thing do
// not fight over one cache line; the shards are summed only when /metrics is scraped.
namespace streamgate::metrics {

using label_values = std::vector<std::string>;

namespace detail {
constexpr std::size_t shards = 4;
std::size_t shard_index();  // this thread's shard
void add_double(std::atomic<std::uint64_t>& bits, double v);
double load_double(const std::atomic<std::uint64_t>& bits);
}  // namespace detail

class counter {
 public:
  void inc(std::uint64_t n = 1) {
    cells_[detail::shard_index()].v.fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t value() const;

 private:
  struct alignas(64) cell {
    std::atomic<std::uint64_t> v{0};
  };
  cell cells_[detail::shards];
};

// A value that goes up and down. One cell: `set` needs a single source of truth.
class gauge {
 public:
  void inc(std::int64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  void dec(std::int64_t n = 1) { v_.fetch_sub(n, std::memory_order_relaxed); }
  void set(std::int64_t n) { v_.store(n, std::memory_order_relaxed); }
  std::int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

class histogram {
 public:
  explicit histogram(const std::vector<double>& bounds);
  void observe(double v);

  struct snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  snapshot read() const;

 private:
  // Per shard: one counter per bucket (the last is +Inf), then the sum's bits.
  std::size_t stride() const { return bounds_.size() + 2; }
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> cells_;
};

// Everything one metric name holds: its help text, label names and one child per distinct
// label values. Children are never removed, so a reference to one stays valid for the
// process's life and may be cached by the caller.
template <class Child>
class family {
 public:
  // Beyond this many children, new label values collapse into one child whose values are all
  // "other": a bug that puts unbounded values in a label cannot grow memory without bound.
  static constexpr std::size_t max_children = 2000;

  family(std::string name, std::string help, std::vector<std::string> labels,
         std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        labels_(std::move(labels)),
        bounds_(std::move(bounds)) {}

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labels() const { return labels_; }
  const std::vector<double>& bounds() const { return bounds_; }  // histograms only

  // The child for these label values (as many as label names). Thread-safe.
  Child& with(const label_values& values);
  Child& with(std::initializer_list<std::string_view> values) {
    return with(label_values(values.begin(), values.end()));
  }

  // Calls f(values, child) for every child, under the family's shared lock.
  template <class F>
  void each(F&& f) const {
    std::shared_lock<std::shared_mutex> guard{mutex_};
    for (auto& c : order_) f(c->first, *c->second);
  }

 private:
  struct hash {
    std::size_t operator()(const label_values& v) const;
  };
  using map_type = std::unordered_map<label_values, std::unique_ptr<Child>, hash>;

  std::unique_ptr<Child> make() const;

  std::string name_;
  std::string help_;
  std::vector<std::string> labels_;
  std::vector<double> bounds_;
  mutable std::shared_mutex mutex_;
  map_type children_;
  std::vector<const typename map_type::value_type*> order_;  // first-use order, for output
};

using counter_family = family<counter>;
using gauge_family = family<gauge>;
using histogram_family = family<histogram>;

// Bucket bounds in seconds for latencies from 100 µs to a minute.
const std::vector<double>& latency_buckets();
// Bucket bounds in seconds for whole streams, 10 ms to 10 minutes.
const std::vector<double>& duration_buckets();

// Owns every family; renders them all for GET /metrics.
class registry {
 public:
  // The process-wide registry the gateway's stats live in.
  static registry& global();

  // Declares a family. Names must be unique and valid Prometheus names (throws otherwise).
  counter_family& add_counter(std::string name, std::string help,
                              std::vector<std::string> labels = {});
  gauge_family& add_gauge(std::string name, std::string help, std::vector<std::string> labels = {});
  histogram_family& add_histogram(std::string name, std::string help,
                                  std::vector<std::string> labels, std::vector<double> bounds);
  // A gauge computed at scrape time (open connections, live sessions...). `read` must be
  // cheap and thread-safe; the returned id removes it again (e.g. when a server stops).
  std::uint64_t add_callback_gauge(std::string name, std::string help,
                                   std::function<double()> read);
  void remove_callback_gauge(std::uint64_t id);

  // The text exposition format, families in declaration order.
  std::string expose() const;

 private:
  struct entry;
  void check_name(const std::string& name);
  template <class Family, class... Bounds>
  Family& declare(std::unique_ptr<Family> entry::*slot, std::string name, std::string help,
                  std::vector<std::string> labels, Bounds&&... bounds);
  mutable std::mutex mutex_;  // declarations and scrapes only, never the hot path
  std::vector<std::shared_ptr<entry>> entries_;
  std::uint64_t next_callback_ = 1;
};

// Renders a double the way Prometheus expects ("+Inf", "NaN", shortest round-trip decimal).
std::string format_value(double v);
// Escapes a label value (backslash, double quote, newline).
std::string escape_label_value(std::string_view v);

}  // namespace streamgate::metrics
