// A CAF application that embeds the streamgate engine. Its own actor, a collector, consumes
// several streams at once, telling them apart by session id. The program streams one answer
// from the built-in mock provider and prints it as it comes, cancels a second one midway,
// resumes a third after a sequence number with a second collector, and then shuts the
// gateway down. Exit status 0 when everything went as described.

#include <streamgate/spawn_gateway.hpp>

#include <caf/all.hpp>

#include <iostream>
#include <map>
#include <string>

namespace {

using namespace streamgate;

using progress_atom = caf::atom_constant<caf::atom("progress")>;
using ended_atom = caf::atom_constant<caf::atom("ended")>;

// What a collector knows of one stream.
struct transcript {
  std::string text;
  std::uint64_t first_seq = 0;
  bool announced = false;
};

// The application's receiver: any actor whose interface includes event_receiver_actor's.
// It tells `owner` when a stream reaches `progress_at` events and when it ends; with `echo`
// it prints the first stream it sees as it arrives.
caf::behavior collector(caf::event_based_actor* self, caf::actor owner, std::uint64_t progress_at,
                        bool echo) {
  auto streams = std::make_shared<std::map<std::string, transcript>>();
  auto echoed = std::make_shared<std::string>();
  return {
      [=](const session_event& e) {
        auto& t = (*streams)[e.session_id];
        if (t.first_seq == 0) t.first_seq = e.event.seq;
        if (echo && echoed->empty()) *echoed = e.session_id;
        if (e.event.kind == event_kind::delta) {
          t.text += e.event.text;
          if (e.session_id == *echoed) std::cout << e.event.text << std::flush;
        }
        if (!t.announced && e.event.seq >= progress_at) {
          t.announced = true;
          self->send(owner, progress_atom::value, e.session_id);
        }
        if (e.event.terminal()) {
          std::string how = to_string(e.event.kind);
          if (!e.event.code.empty()) how += " " + e.event.code;
          self->send(owner, ended_atom::value, e.session_id, how, t.text, t.first_seq);
          streams->erase(e.session_id);
        }
      },
      [=](const session_detached& d) {
        self->send(owner, ended_atom::value, d.session_id, std::string{"detached"}, std::string{},
                   std::uint64_t{0});
      },
  };
}

chat_request make_request(const std::string& prompt, int tokens, int interval_ms) {
  nlohmann::json body = {
      {"model", "mock"},
      {"messages", {{{"role", "user"}, {"content", prompt}}}},
      {"mock", {{"tokens", tokens}, {"first_token_ms", 0}, {"interval_ms", interval_ms}}}};
  return std::get<chat_request>(parse_chat_request(body.dump()));
}

struct ending {
  std::string how;
  std::string text;
  std::uint64_t first_seq = 0;
};

// Waits for the end of stream `id`, ignoring progress reports of other streams.
ending await_end(caf::scoped_actor& self, const std::string& id) {
  ending out;
  bool done = false;
  while (!done) {
    self->receive(
        [&](ended_atom, const std::string& sid, std::string& how, std::string& text,
            std::uint64_t first) {
          if (sid != id) return;
          out = {std::move(how), std::move(text), first};
          done = true;
        },
        [](progress_atom, const std::string&) {},
        caf::after(std::chrono::seconds(30)) >>
            [&] {
              out.how = "timeout";
              done = true;
            });
  }
  return out;
}

bool check(bool ok, const std::string& what) {
  std::cout << (ok ? "ok   " : "FAIL ") << what << "\n";
  return ok;
}

}  // namespace

int main() {
  caf::actor_system_config cfg;
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system system{cfg};

  // The engine's log goes where the application says: here, counted and dropped.
  auto log_lines = std::make_shared<std::atomic<int>>(0);
  gateway_options options;
  options.log_line = [log_lines](std::string_view) { ++*log_lines; };
  auto gateway = spawn_gateway(system, options);
  if (!gateway) {
    std::cerr << "spawn_gateway: " << system.render(gateway.error()) << "\n";
    return 1;
  }
  caf::scoped_actor self{system};
  auto a = caf::actor_cast<event_receiver_actor>(system.spawn(collector, self, 10, true));
  auto b = caf::actor_cast<event_receiver_actor>(system.spawn(collector, self, 1000, false));
  bool ok = true;

  auto start = [&](chat_request req, const event_receiver_actor& to) {
    start_result r;
    self->request(*gateway, caf::infinite, start_atom::value, std::move(req), to)
        .receive([&](start_result& x) { r = std::move(x); },
                 [&](caf::error& e) { r.error_code = system.render(e); });
    return r;
  };

  // 1. One whole answer, printed as it streams.
  std::cout << "stream 1: ";
  auto first = start(make_request("Tell me about streaming", 24, 5), a);
  ok &= check(first.ok(), "stream 1 started (" + first.session_id + ")");
  auto end1 = await_end(self, first.session_id);
  std::cout << "\n";
  ok &= check(end1.how == "finish" && !end1.text.empty(), "stream 1 ended with finish");

  // 2. A long answer, cancelled once ten events have arrived.
  auto second = start(make_request("A long story", 2000, 5), a);
  ok &= check(second.ok(), "stream 2 started");
  self->receive([&](progress_atom, const std::string& id) {
    bool cancelled = false;
    self->request(*gateway, caf::infinite, cancel_atom::value, id)
        .receive([&](bool x) { cancelled = x; }, [](caf::error&) {});
    ok &= check(cancelled, "stream 2 cancel accepted after 10 events");
  });
  auto end2 = await_end(self, second.session_id);
  ok &= check(end2.how == "cancelled", "stream 2 ended with cancelled (" + end2.how + ")");

  // 3. An answer that a second collector resumes after event 20: it gets the rest, byte for
  // byte what the first collector saw after that point.
  auto third = start(make_request("Resume me", 40, 1), a);
  ok &= check(third.ok(), "stream 3 started");
  auto end3 = await_end(self, third.session_id);
  bool attached = false;
  self->request(*gateway, caf::infinite, attach_atom::value, third.session_id, std::uint64_t{20}, b)
      .receive([&](bool x) { attached = x; }, [](caf::error&) {});
  ok &= check(attached, "stream 3 attached again after seq 20");
  auto resumed = await_end(self, third.session_id);
  bool suffix = !resumed.text.empty() && resumed.text.size() < end3.text.size() &&
                end3.text.compare(end3.text.size() - resumed.text.size(), std::string::npos,
                                  resumed.text) == 0;
  ok &= check(resumed.how == "finish" && resumed.first_seq == 21 && suffix,
              "stream 3 resumed from seq 21 with the same text");

  // Shut down: the gateway ends what still runs and quits; then our own actors.
  self->monitor(*gateway);
  self->send(*gateway, shutdown_atom::value);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; },
                caf::after(std::chrono::seconds(10)) >> [] {});
  ok &= check(down, "gateway shut down");
  ok &= check(*log_lines > 0, "engine log lines went to the application (" +
                                  std::to_string(log_lines->load()) + ")");
  self->send_exit(a, caf::exit_reason::user_shutdown);
  self->send_exit(b, caf::exit_reason::user_shutdown);
  std::cout << (ok ? "embed example: all checks passed\n" : "embed example: FAILED\n");
  return ok ? 0 : 1;
}
