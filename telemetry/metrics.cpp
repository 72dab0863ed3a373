#include "telemetry/metrics.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace streamgate::metrics {

namespace detail {

std::size_t shard_index() {
  static std::atomic<std::size_t> next{0};
  thread_local std::size_t index = next.fetch_add(1, std::memory_order_relaxed) % shards;
  return index;
}

void add_double(std::atomic<std::uint64_t>& bits, double v) {
  auto old = bits.load(std::memory_order_relaxed);
  for (;;) {
    double d;
    std::memcpy(&d, &old, sizeof d);
    d += v;
    std::uint64_t next;
    std::memcpy(&next, &d, sizeof next);
    if (bits.compare_exchange_weak(old, next, std::memory_order_relaxed)) return;
  }
}

double load_double(const std::atomic<std::uint64_t>& bits) {
  auto b = bits.load(std::memory_order_relaxed);
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}

}  // namespace detail

std::uint64_t counter::value() const {
  std::uint64_t sum = 0;
  for (auto& c : cells_) sum += c.v.load(std::memory_order_relaxed);
  return sum;
}

histogram::histogram(const std::vector<double>& bounds)
    : bounds_(bounds), cells_(new std::atomic<std::uint64_t>[detail::shards * stride()]) {
  for (std::size_t i = 0; i < detail::shards * stride(); ++i) cells_[i].store(0);
}

void histogram::observe(double v) {
  if (std::isnan(v)) return;
  // Buckets are few (< 20): a linear scan beats a binary search's branches here.
  std::size_t b = 0;
  while (b < bounds_.size() && v > bounds_[b]) ++b;
  auto* shard = &cells_[detail::shard_index() * stride()];
  shard[b].fetch_add(1, std::memory_order_relaxed);
  detail::add_double(shard[bounds_.size() + 1], v);
}

histogram::snapshot histogram::read() const {
  snapshot s;
  std::vector<std::uint64_t> per_bucket(bounds_.size() + 1, 0);
  for (std::size_t sh = 0; sh < detail::shards; ++sh) {
    auto* shard = &cells_[sh * stride()];
    for (std::size_t b = 0; b <= bounds_.size(); ++b)
      per_bucket[b] += shard[b].load(std::memory_order_relaxed);
    s.sum += detail::load_double(shard[bounds_.size() + 1]);
  }
  std::uint64_t running = 0;
  for (auto n : per_bucket) {
    running += n;
    s.cumulative.push_back(running);
  }
  s.count = running;
  return s;
}

template <class Child>
std::size_t family<Child>::hash::operator()(const label_values& v) const {
  std::size_t h = 0;
  for (auto& s : v) h = h * 31 + std::hash<std::string>{}(s);
  return h;
}

template <class Child>
std::unique_ptr<Child> family<Child>::make() const {
  if constexpr (std::is_same_v<Child, histogram>)
    return std::make_unique<histogram>(bounds_);
  else
    return std::make_unique<Child>();
}

template <class Child>
Child& family<Child>::with(const label_values& values) {
  if (values.size() != labels_.size())
    throw std::invalid_argument(name_ + ": expected " + std::to_string(labels_.size()) +
                                " label values, got " + std::to_string(values.size()));
  {
    std::shared_lock<std::shared_mutex> guard{mutex_};
    auto it = children_.find(values);
    if (it != children_.end()) return *it->second;
  }
  std::unique_lock<std::shared_mutex> guard{mutex_};
  auto key = values;
  if (children_.size() >= max_children && children_.count(values) == 0)
    key.assign(labels_.size(), "other");
  auto [it, inserted] = children_.try_emplace(std::move(key), nullptr);
  if (inserted) {
    it->second = make();
    order_.push_back(&*it);
  }
  return *it->second;
}

template class family<counter>;
template class family<gauge>;
template class family<histogram>;

const std::vector<double>& latency_buckets() {
  static const std::vector<double> b{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                     0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                     1,      2.5,     5,      10,    30,     60};
  return b;
}

const std::vector<double>& duration_buckets() {
  static const std::vector<double> b{0.01, 0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                     5,    10,   30,  60,   120, 300, 600};
  return b;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

namespace {

// Backslash and newline always; the double quote only inside a label value.
std::string escape(std::string_view v, bool quote) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (quote && c == '"')
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string escape_label_value(std::string_view v) {
  return escape(v, true);
}

namespace {

bool valid_name(const std::string& n, bool allow_colon) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// `{a="x",b="y"` plus `extra` (already rendered, e.g. le="0.1"), then `}`; empty when
// there is nothing to put between the braces.
std::string label_set(const std::vector<std::string>& names, const label_values& values,
                      const std::string& extra = {}) {
  if (names.empty() && extra.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!extra.empty()) {
    if (!names.empty()) out += ',';
    out += extra;
  }
  out += '}';
  return out;
}

void header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += "# HELP " + name + ' ' + escape(help, false) + '\n';
  out += "# TYPE " + name + ' ' + type + '\n';
}

}  // namespace

struct registry::entry {
  std::unique_ptr<counter_family> counters;
  std::unique_ptr<gauge_family> gauges;
  std::unique_ptr<histogram_family> histograms;
  // Callback gauges.
  std::uint64_t callback_id = 0;
  std::string name;
  std::string help;
  std::function<double()> read;

  const std::string& metric_name() const {
    if (counters) return counters->name();
    if (gauges) return gauges->name();
    if (histograms) return histograms->name();
    return name;
  }

  void render(std::string& out) const {
    if (counters) {
      header(out, counters->name(), counters->help(), "counter");
      counters->each([&](const label_values& v, const counter& c) {
        out += counters->name() + label_set(counters->labels(), v) + ' ' +
               std::to_string(c.value()) + '\n';
      });
    } else if (gauges) {
      header(out, gauges->name(), gauges->help(), "gauge");
      gauges->each([&](const label_values& v, const gauge& g) {
        out += gauges->name() + label_set(gauges->labels(), v) + ' ' + std::to_string(g.value()) +
               '\n';
      });
    } else if (histograms) {
      auto& f = *histograms;
      header(out, f.name(), f.help(), "histogram");
      auto& bounds = f.bounds();
      f.each([&](const label_values& v, const histogram& h) {
        auto s = h.read();
        for (std::size_t i = 0; i <= bounds.size(); ++i) {
          auto le = "le=\"" + (i < bounds.size() ? format_value(bounds[i]) : "+Inf") + '"';
          out += f.name() + "_bucket" + label_set(f.labels(), v, le) + ' ' +
                 std::to_string(s.cumulative[i]) + '\n';
        }
        out += f.name() + "_sum" + label_set(f.labels(), v) + ' ' + format_value(s.sum) + '\n';
        out +=
            f.name() + "_count" + label_set(f.labels(), v) + ' ' + std::to_string(s.count) + '\n';
      });
    } else {
      header(out, name, help, "gauge");
      out += name + ' ' + format_value(read()) + '\n';
    }
  }
};

registry& registry::global() {
  static registry instance;
  return instance;
}

namespace {
void check_labels(const std::vector<std::string>& labels) {
  for (auto& l : labels) {
    if (!valid_name(l, false) || l.rfind("__", 0) == 0 || l == "le")
      throw std::invalid_argument("invalid label name '" + l + "'");
  }
}
}  // namespace

void registry::check_name(const std::string& name) {
  if (!valid_name(name, true)) throw std::invalid_argument("invalid metric name '" + name + "'");
  for (auto& e : entries_)
    if (e->metric_name() == name) throw std::invalid_argument("metric '" + name + "' exists");
}

template <class Family, class... Bounds>
Family& registry::declare(std::unique_ptr<Family> entry::*slot, std::string name, std::string help,
                          std::vector<std::string> labels, Bounds&&... bounds) {
  std::lock_guard<std::mutex> guard{mutex_};
  check_name(name);
  check_labels(labels);
  auto e = std::make_shared<entry>();
  (*e).*slot = std::make_unique<Family>(std::move(name), std::move(help), std::move(labels),
                                        std::forward<Bounds>(bounds)...);
  entries_.push_back(e);
  return *((*e).*slot);
}

counter_family& registry::add_counter(std::string name, std::string help,
                                      std::vector<std::string> labels) {
  return declare(&entry::counters, std::move(name), std::move(help), std::move(labels));
}

gauge_family& registry::add_gauge(std::string name, std::string help,
                                  std::vector<std::string> labels) {
  return declare(&entry::gauges, std::move(name), std::move(help), std::move(labels));
}

histogram_family& registry::add_histogram(std::string name, std::string help,
                                          std::vector<std::string> labels,
                                          std::vector<double> bounds) {
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
      throw std::invalid_argument(name + ": bucket bounds must be finite and increasing");
  }
  return declare(&entry::histograms, std::move(name), std::move(help), std::move(labels),
                 std::move(bounds));
}

std::uint64_t registry::add_callback_gauge(std::string name, std::string help,
                                           std::function<double()> read) {
  std::lock_guard<std::mutex> guard{mutex_};
  // A later server in the same process (tests start many) takes the name over.
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if ((*it)->read && (*it)->name == name) {
      entries_.erase(it);
      break;
    }
  }
  check_name(name);
  auto e = std::make_shared<entry>();
  e->callback_id = next_callback_++;
  e->name = std::move(name);
  e->help = std::move(help);
  e->read = std::move(read);
  entries_.push_back(e);
  return e->callback_id;
}

void registry::remove_callback_gauge(std::uint64_t id) {
  std::lock_guard<std::mutex> guard{mutex_};
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if ((*it)->read && (*it)->callback_id == id) {
      entries_.erase(it);
      return;
    }
  }
}

std::string registry::expose() const {
  // Held for the whole scrape so a callback gauge cannot be removed while it is being read.
  std::lock_guard<std::mutex> guard{mutex_};
  std::string out;
  out.reserve(entries_.size() * 256);
  for (auto& e : entries_) e->render(out);
  return out;
}

}  // namespace streamgate::metrics
