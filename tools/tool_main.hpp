#pragma once

#include <csignal>
#include <cstdint>
#include <iostream>
#include <stdexcept>
#include <string>

// What the tools' programs (fake-upstream, curl-relay) share in their main().
namespace streamgate::tools {

// The value after option argv[i], stepping i over it; throws when it is missing.
inline std::string option_value(int argc, char** argv, int& i) {
  if (i + 1 >= argc) throw std::runtime_error(std::string{argv[i]} + ": missing value");
  return argv[++i];
}

// --listen HOST:PORT.
inline void parse_listen(const std::string& v, std::string& host, std::uint16_t& port) {
  auto colon = v.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--listen: expected HOST:PORT");
  host = v.substr(0, colon);
  port = static_cast<std::uint16_t>(std::stoul(v.substr(colon + 1)));
}

// The life of a tool's server process: start `server` (start(), port(), stop()), print the
// "listening on HOST:PORT" line scripts wait for, run until SIGINT or SIGTERM, stop. The
// signals are blocked before the server's threads start, so only this thread takes them.
template <class Server>
void serve_until_signal(Server& server, const std::string& host) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  server.start();
  std::cout << "listening on " << host << ":" << server.port() << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  server.stop();
}

}  // namespace streamgate::tools
