#include "tests/integration/upstream_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace streamgate::test {

using json = nlohmann::json;

const char* to_string(driver_placement p) {
  switch (p) {
    case driver_placement::own_thread:
      return "own_thread";
    case driver_placement::io_threads:
      return "on_io_threads";
    case driver_placement::two_threads:
      return "two_threads";
    case driver_placement::two_io_loops:
      return "two_io_loops";
  }
  return "?";
}

upstream_fixture::upstream_fixture(const std::map<std::string, std::string>& models,
                                   const std::function<void(http_provider_config&)>& tweak,
                                   const std::function<void(gateway_config&)>& gateway_tweak,
                                   driver_placement driver) {
  fake::server_options fo;
  fake_ = std::make_unique<fake::fake_server>(fo);
  fake_->start();

  gateway_config g;
  provider_entry p;
  p.name = "fake";
  p.kind = "custom";
  p.http.name = "fake";
  p.http.base_url = "http://127.0.0.1:" + std::to_string(fake_->port()) + "/v1";
  for (auto& [client, upstream] : models) {
    p.models.push_back(client);
    p.http.models[client] = upstream;
  }
  // Test-sized deadlines; each timeout test sets its own.
  p.http.timeouts.connect = std::chrono::milliseconds{2000};
  p.http.timeouts.first_byte = std::chrono::milliseconds{5000};
  p.http.timeouts.idle = std::chrono::milliseconds{5000};
  p.http.timeouts.total = std::chrono::milliseconds{20000};
  if (tweak) tweak(p.http);
  g.providers.push_back(p);
  g.sessions.max_attempts = 1;  // one provider: a fault must surface, not be retried
  g.sessions.resume_window = std::chrono::milliseconds(50);  // no test here resumes
  if (driver == driver_placement::two_threads) g.upstream_threads = 2;
  if (gateway_tweak) gateway_tweak(g);
  auto http = test_server::default_options();
  http.upstream_on_io_threads =
      driver == driver_placement::io_threads || driver == driver_placement::two_io_loops;
  if (driver == driver_placement::two_io_loops) http.threads = 2;
  server_ = std::make_unique<test_server>(g, http);
}

upstream_fixture::~upstream_fixture() {
  // Sessions clean up on CAF's threads after they end; the server goes once they have.
  if (server_) eventually([&] { return server_->engine().counts().live_sessions == 0; });
  server_.reset();
  fake_.reset();
}

std::string upstream_fixture::chat_body(const std::string& model, const std::string& content) {
  return json{
      {"model", model}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", content}}}}}
      .dump();
}

client_outcome upstream_fixture::stream(const std::string& model, const std::string& content) {
  client_outcome out;
  http_client c{port(), std::chrono::seconds(15)};
  auto reply = c.request("POST", "/v1/chat/completions", chat_body(model, content));
  out.status = reply.status;
  out.retry_after = reply.header("retry-after");
  out.session = reply.header("x-streamgate-session");
  auto on_error = [&](const json& j) {
    out.error_code = j["error"].value("code", "");
    out.error_message = j["error"].value("message", "");
    ++out.terminal_events;
  };
  if (reply.status != 200) {
    // An error before the first token: a real HTTP status and an OpenAI error body.
    auto j = json::parse(reply.body, nullptr, false);
    if (!j.is_discarded() && j.contains("error")) on_error(j);
    return out;
  }
  std::size_t pos = 0;
  for (auto end = reply.body.find("\n\n"); end != std::string::npos;
       pos = end + 2, end = reply.body.find("\n\n", pos)) {
    auto block = reply.body.substr(pos, end - pos);
    auto data_at = block.find("data: ");
    if (data_at == std::string::npos) continue;  // a keep-alive comment
    auto data = block.substr(data_at + 6);
    if (data == "[DONE]") {
      out.done = true;
      continue;
    }
    auto j = json::parse(data, nullptr, false);
    if (j.is_discarded()) continue;
    if (j.contains("error")) {
      on_error(j);
      continue;
    }
    if (!j.contains("choices") || j["choices"].empty()) continue;
    auto& choice = j["choices"][0];
    if (choice["delta"].contains("content"))
      out.text += choice["delta"]["content"].get<std::string>();
    if (choice["finish_reason"].is_string()) {
      out.finish_reason = choice["finish_reason"].get<std::string>();
      ++out.terminal_events;
    }
  }
  return out;
}

json upstream_fixture::upstream_stats() {
  http_client c{fake_->port()};
  auto r = c.request("GET", "/stats");
  return json::parse(r.body, nullptr, false);
}

bool upstream_fixture::settled() {
  return eventually([&] {
    auto c = server_->engine().counts();
    return c.active_sessions == 0 && c.active_upstreams == 0 &&
           fake_->counters().active_streams.load() == 0;
  });
}

std::uint16_t unused_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace streamgate::test
