#include "telemetry/log.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <ctime>

namespace streamgate::log {
namespace {

std::atomic<int> g_level{static_cast<int>(level::info)};

std::shared_ptr<spdlog::logger> make_logger(spdlog::sink_ptr sink) {
  auto l = std::make_shared<spdlog::logger>("streamgate", std::move(sink));
  l->set_pattern("%v");
  l->flush_on(spdlog::level::info);
  return l;
}

// Swapped by init while other threads write: read and replaced atomically.
std::shared_ptr<spdlog::logger> g_logger =
    make_logger(std::make_shared<spdlog::sinks::stderr_sink_mt>());

void use(std::shared_ptr<spdlog::logger> l) {
  std::atomic_store(&g_logger, std::move(l));
}

// Lines to an application's function, one call at a time.
class function_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit function_sink(std::function<void(std::string_view)> line) : line_(std::move(line)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    line_(std::string_view{msg.payload.data(), msg.payload.size()});
  }
  void flush_() override {}

 private:
  std::function<void(std::string_view)> line_;
};

std::string timestamp() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms));
  return buf;
}

}  // namespace

bool parse_level(std::string_view name, level& out) {
  static constexpr std::pair<std::string_view, level> names[] = {
      {"trace", level::trace}, {"debug", level::debug}, {"info", level::info},
      {"warn", level::warn},   {"error", level::error}, {"off", level::off}};
  for (auto& [n, l] : names) {
    if (n == name) {
      out = l;
      return true;
    }
  }
  return false;
}

const char* to_string(level l) {
  switch (l) {
    case level::trace:
      return "trace";
    case level::debug:
      return "debug";
    case level::info:
      return "info";
    case level::warn:
      return "warn";
    case level::error:
      return "error";
    case level::off:
      return "off";
  }
  return "?";
}

void init(level min_level, const std::string& file) {
  set_level(min_level);
  if (file.empty())
    use(make_logger(std::make_shared<spdlog::sinks::stderr_sink_mt>()));
  else
    use(make_logger(std::make_shared<spdlog::sinks::basic_file_sink_mt>(file)));
}

void route_to(level min_level, std::function<void(std::string_view)> line) {
  set_level(min_level);
  use(make_logger(std::make_shared<function_sink>(std::move(line))));
}

void set_level(level l) {
  g_level.store(static_cast<int>(l), std::memory_order_relaxed);
}

bool enabled(level l) {
  return l != level::off && static_cast<int>(l) >= g_level.load(std::memory_order_relaxed);
}

void write(level l, std::string_view event, nlohmann::json fields) {
  nlohmann::ordered_json line = nlohmann::ordered_json::object();
  line["ts"] = timestamp();
  line["level"] = to_string(l);
  line["event"] = event;
  if (fields.is_object()) {
    for (auto& [k, v] : fields.items()) line[k] = std::move(v);
  }
  // Replace invalid UTF-8 instead of throwing: log content may come from upstreams.
  std::atomic_load(&g_logger)->info(
      line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
}

}  // namespace streamgate::log
