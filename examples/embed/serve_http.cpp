// A CAF application that serves streamgate's HTTP API from inside itself: the gateway
// listens on a port of its own choosing (serve_http), any OpenAI client can stream from it,
// and the application's own actor watches the gateway through its typed interface. The
// program checks itself with one streamed request over a plain socket, then shuts down.
// Exit status 0 when the request streamed to the end.

#include <streamgate/spawn_gateway.hpp>

#include <caf/all.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>
#include <string>

namespace {

using namespace streamgate;

using report_atom = caf::atom_constant<caf::atom("report")>;

// The application's own actor: asks the gateway how many streams run, on request.
caf::behavior watcher(caf::event_based_actor* self, gateway_actor gateway) {
  return {
      [=](report_atom) -> caf::result<std::uint64_t> {
        auto rp = self->make_response_promise<std::uint64_t>();
        self->request(gateway, std::chrono::seconds(5), status_atom::value)
            .then([rp](const gateway_status& s) mutable { rp.deliver(s.live_sessions); },
                  [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
        return rp;
      },
  };
}

// POSTs a streamed chat completion to 127.0.0.1:port and returns everything it answered.
std::string stream_once(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    return {};
  }
  std::string body = R"({"model":"mock","stream":true,"messages":[{"role":"user","content":"Hi"}],)"
                     R"("mock":{"tokens":16,"first_token_ms":0,"interval_ms":2}})";
  std::string request =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
      "Content-Type: application/json\r\nConnection: close\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  ::send(fd, request.data(), request.size(), 0);
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, n);
  ::close(fd);
  return answer;
}

}  // namespace

int main() {
  caf::actor_system_config cfg;
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system system{cfg};

  gateway_options options;
  options.config_json = R"({"listen": "127.0.0.1:0", "log": {"level": "warn"}})";
  options.serve_http = true;
  auto gateway = spawn_gateway(system, options);
  if (!gateway) {
    std::cerr << "spawn_gateway: " << system.render(gateway.error()) << "\n";
    return 1;
  }
  caf::scoped_actor self{system};
  std::uint16_t port = 0;
  self->request(*gateway, caf::infinite, status_atom::value)
      .receive([&](const gateway_status& s) { port = s.http_port; }, [](caf::error&) {});
  std::cout << "serving the HTTP API on http://127.0.0.1:" << port << "/v1\n";

  auto answer = stream_once(port);
  auto chunks = std::size_t{0};
  for (auto at = answer.find("\ndata: {"); at != std::string::npos;
       at = answer.find("\ndata: {", at + 1))
    ++chunks;
  bool done = answer.find("data: [DONE]") != std::string::npos;
  std::cout << "one streamed request: " << chunks << " chunks, " << (done ? "" : "no ")
            << "[DONE]\n";

  auto w = system.spawn(watcher, *gateway);
  std::uint64_t live = 0;
  self->request(w, caf::infinite, report_atom::value)
      .receive([&](std::uint64_t n) { live = n; }, [](caf::error&) {});
  std::cout << "our watcher sees " << live << " session(s) kept for resume\n";

  self->monitor(*gateway);
  self->send(*gateway, shutdown_atom::value);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; },
                caf::after(std::chrono::seconds(10)) >> [] {});
  self->send_exit(w, caf::exit_reason::user_shutdown);
  bool ok = port != 0 && chunks >= 16 && done && live == 1 && down;
  std::cout << (ok ? "serve_http example: all checks passed\n" : "serve_http example: FAILED\n");
  return ok ? 0 : 1;
}
