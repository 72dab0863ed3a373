// streamgate inside your own CAF application: create a gateway next to your actors, start a
// session, and receive its events as ordinary messages. Prints the answer as it streams.
//
//   build/examples/embedded_chat "Tell me something"

#include "actors/actor_sink.hpp"
#include "actors/messages.hpp"
#include "supervision/gateway.hpp"

#include <caf/all.hpp>

#include <iostream>

namespace {

// Your application's actor: it consumes one answer and reports how it ended.
caf::behavior printer(caf::event_based_actor* self, caf::actor done) {
  return {
      [self, done](const streamgate::stream_event& ev) {
        using streamgate::event_kind;
        if (ev.kind == event_kind::delta) std::cout << ev.text << std::flush;
        if (!ev.terminal()) return;
        std::cout << "\n[" << streamgate::to_string(ev.kind) << (ev.code.empty() ? "" : " ")
                  << ev.code << "]\n";
        self->send(done, ev.kind == event_kind::finish);
        self->quit();
      },
  };
}

}  // namespace

int main(int argc, char** argv) {
  caf::actor_system_config cfg;
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system system{cfg};

  streamgate::gateway engine{system, streamgate::gateway_config::with_mock_provider()};

  auto body =
      nlohmann::json{{"model", "mock"},
                     {"messages", {{{"role", "user"}, {"content", argc > 1 ? argv[1] : "Hello"}}}},
                     {"mock", {{"tokens", 12}, {"first_token_ms", 0}, {"interval_ms", 5}}}};
  auto parsed = streamgate::parse_chat_request(body.dump());
  auto& request = std::get<streamgate::chat_request>(parsed);

  caf::scoped_actor self{system};
  auto sink = std::make_shared<streamgate::actor_sink>(system.spawn(printer, self));
  auto started = engine.start(std::move(request), sink, sink->transport(), true);
  if (!started.ok()) {
    std::cerr << started.error_code << ": " << started.message << "\n";
    return 1;
  }
  bool finished = false;
  self->receive([&](bool ok) { finished = ok; });
  return finished ? 0 : 1;
}
