#include "tools/loadgen/options.hpp"

#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>

namespace streamgate::loadgen {

const char* to_string(protocol p) {
  switch (p) {
    case protocol::sse:
      return "sse";
    case protocol::ws:
      return "ws";
    case protocol::poll:
      return "poll";
  }
  return "?";
}

endpoint parse_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) throw usage_error("--url: expected http://HOST:PORT, got " + url);
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  endpoint e;
  if (slash != std::string::npos) e.path = rest.substr(slash);
  while (!e.path.empty() && e.path.back() == '/') e.path.pop_back();
  auto colon = authority.rfind(':');
  if (colon == std::string::npos) throw usage_error("--url: the port is required: " + url);
  e.host = authority.substr(0, colon);
  if (e.host.size() > 2 && e.host.front() == '[') e.host = e.host.substr(1, e.host.size() - 2);
  if (e.host == "localhost") e.host = "127.0.0.1";
  boost::system::error_code ec;
  boost::asio::ip::make_address(e.host, ec);
  if (ec) throw usage_error("--url: the host must be a numeric address: " + url);
  unsigned long port = 0;
  try {
    port = std::stoul(authority.substr(colon + 1));
  } catch (const std::exception&) {
    port = 0;
  }
  if (port == 0 || port > 65535) throw usage_error("--url: invalid port: " + url);
  e.port = static_cast<std::uint16_t>(port);
  return e;
}

namespace {

bool is_loopback(const std::string& host) {
  auto a = boost::asio::ip::make_address(host);
  return a.is_loopback();
}

double number(const std::string& flag, const std::string& v, double min, double max) {
  double d = 0;
  try {
    std::size_t used = 0;
    d = std::stod(v, &used);
    if (used != v.size()) throw std::invalid_argument(v);
  } catch (const std::exception&) {
    throw usage_error(flag + ": expected a number, got '" + v + "'");
  }
  if (d < min || d > max)
    throw usage_error(flag + ": must be between " + std::to_string(min) + " and " +
                      std::to_string(max));
  return d;
}

// "A" or "A:B" (A <= B): a fixed count or a range to draw from.
std::pair<unsigned, unsigned> count_range(const std::string& flag, const std::string& v) {
  auto colon = v.find(':');
  auto a = static_cast<unsigned>(number(flag, v.substr(0, colon), 0, 1e9));
  auto b = colon == std::string::npos
               ? a
               : static_cast<unsigned>(number(flag, v.substr(colon + 1), 0, 1e9));
  if (b < a) throw usage_error(flag + ": expected A or A:B with A <= B, got '" + v + "'");
  return {a, b};
}

}  // namespace

options parse_options(const std::vector<std::string>& args) {
  options o;
  bool have_url = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw usage_error(a + ": missing value");
      return args[++i];
    };
    auto count = [&](double max) { return static_cast<unsigned>(number(a, value(), 0, max)); };
    if (a == "--protocol") {
      auto v = value();
      if (v == "sse")
        o.proto = protocol::sse;
      else if (v == "ws")
        o.proto = protocol::ws;
      else if (v == "poll")
        o.proto = protocol::poll;
      else
        throw usage_error("--protocol: expected sse, ws or poll, got '" + v + "'");
    } else if (a == "--url") {
      o.target = parse_url(value());
      have_url = true;
    } else if (a == "--model") {
      o.model = value();
    } else if (a == "--request-json") {
      o.request_json = value();
      auto j = nlohmann::json::parse(o.request_json, nullptr, false);
      if (!j.is_object()) throw usage_error("--request-json: expected a JSON object");
    } else if (a == "--prompt") {
      o.prompt = value();
    } else if (a == "--concurrency") {
      o.concurrency = count(100000);
    } else if (a == "--rate") {
      o.rate = number(a, value(), 0, 1e6);
    } else if (a == "--ramp-s") {
      o.ramp_s = number(a, value(), 0, 3600);
    } else if (a == "--requests") {
      o.requests = count(10000000);
    } else if (a == "--timeout-s") {
      o.timeout_s = number(a, value(), 0.001, 3600);
    } else if (a == "--max-duration-s") {
      o.max_duration_s = number(a, value(), 0.001, 86400);
    } else if (a == "--cancel-after") {
      o.cancel_after = count(1e9);
    } else if (a == "--upstream-stats") {
      o.upstream_stats = parse_url(value());
    } else if (a == "--idle-connections") {
      o.idle_connections = count(1000000);
    } else if (a == "--hold-s") {
      o.hold_s = number(a, value(), 0, 3600);
    } else if (a == "--threads") {
      o.threads = std::max(1u, count(64));
    } else if (a == "--json") {
      o.json_file = value();
    } else if (a == "--keep-alive") {
      o.keep_alive = true;
    } else if (a == "--allow-remote") {
      o.allow_remote = true;
    } else if (a == "--resume") {
      o.resume = true;
    } else if (a == "--max-resumes") {
      o.max_resumes = count(1000);
    } else if (a == "--disconnect-after") {
      o.disconnect_after = count_range(a, value());
      o.resume = true;
    } else if (a == "--resume-delay-ms") {
      o.resume_delay_ms = number(a, value(), 0, 600000);
    } else if (a == "--read-delay-ms") {
      o.read_delay_ms = number(a, value(), 0, 60000);
    } else if (a == "--expect-text") {
      auto& v = value();
      if (v.find(':') == std::string::npos) throw usage_error(a + ": expected CHUNKS:SIZE");
      auto colon = v.find(':');
      o.expect_text = {static_cast<unsigned>(number(a, v.substr(0, colon), 1, 1e7)),
                       static_cast<unsigned>(number(a, v.substr(colon + 1), 1, 1e5))};
    } else if (a == "--seed") {
      o.seed = static_cast<std::uint64_t>(number(a, value(), 0, 9e15));
    } else {
      throw usage_error(a + ": unknown option (see --help)");
    }
  }
  if (!have_url) throw usage_error("--url is required");
  if (o.concurrency == 0 && o.rate == 0 && o.idle_connections == 0)
    throw usage_error("--concurrency must be at least 1");
  if (o.resume && o.cancel_after)
    throw usage_error("--cancel-after: not with --resume or --disconnect-after");
  if (o.ramp_s > 0 && o.rate > 0) throw usage_error("--ramp-s: only with --concurrency");
  // A connection belongs to a closed-loop slot; an open loop has none, a resume replaces its
  // connection by design, and idle mode holds sockets without streams.
  if (o.keep_alive && (o.rate > 0 || o.resume || o.idle_connections > 0))
    throw usage_error(
        "--keep-alive: only with --concurrency (not --rate, --resume, --disconnect-after or "
        "--idle-connections)");
  if (!o.allow_remote) {
    if (!is_loopback(o.target.host) || (o.upstream_stats && !is_loopback(o.upstream_stats->host)))
      throw usage_error("--url: only loopback addresses unless --allow-remote");
  }
  return o;
}

std::string usage_text() {
  return "usage: loadgen --url http://HOST:PORT [options]\n"
         "  --protocol sse|ws|poll  how streams are read (default sse)\n"
         "  --model NAME            model in each request (default mock)\n"
         "  --prompt TEXT           the user message (default Hello)\n"
         "  --request-json JSON     fields merged into each request body\n"
         "  --concurrency N         closed loop: streams kept in flight (default 1)\n"
         "  --rate R                open loop: start R streams per second instead\n"
         "  --ramp-s S              closed loop: start the first N streams evenly over S seconds\n"
         "                          (each slot then restarts when its stream ends)\n"
         "  --requests N            streams in all (default 1)\n"
         "  --keep-alive            closed loop: each slot reuses its connection for its next\n"
         "                          stream (HTTP/1.1 keep-alive; WS: the next start on the same\n"
         "                          socket); a connection the server closed is reopened, and the\n"
         "                          summary counts connections_opened\n"
         "  --timeout-s S           per stream (default 30)\n"
         "  --max-duration-s S      whole run bound; streams still open are abandoned (120)\n"
         "  --cancel-after K        cancel each stream after K deltas\n"
         "  --upstream-stats URL    the fake upstream's /stats: cancel time until it saw the "
         "close\n"
         "  --idle-connections N    idle mode: open N sockets (WS: upgraded), hold, close\n"
         "  --hold-s S              idle mode: how long to hold them (default 3)\n"
         "  --threads N             I/O threads (default 1)\n"
         "  --json FILE             also write the summary as JSON\n"
         "  --allow-remote          allow non-loopback targets\n"
         "chaos clients (docs/chaos.md):\n"
         "  --resume                resumable streams (SSE and long-poll start with POST\n"
         "                          /v1/sessions): a lost connection is resumed after the last "
         "seq\n"
         "  --max-resumes N         resumes per stream at most (default 8)\n"
         "  --disconnect-after A[:B] vanish once after k deltas, k drawn from A..B (implies\n"
         "                          --resume)\n"
         "  --resume-delay-ms MS    wait a random time up to MS before a resume (default 0)\n"
         "  --read-delay-ms MS      slow reader: pause before every read, 4 KiB socket buffer\n"
         "  --expect-text C:S       the fake upstream's answer (C chunks of S bytes): a done\n"
         "                          stream's text must equal it, any other's be a prefix of it\n"
         "  --seed S                seeds the draws above (default 1)\n";
}

}  // namespace streamgate::loadgen
