// curl-relay: the least a libcurl-based streaming gateway can cost, the reference `make bench`
// measures streamgate against besides nginx (bench/notes.md).

#include "tools/curl_relay/curl_relay.hpp"
#include "tools/tool_main.hpp"

#include <iostream>
#include <string>

namespace {

const char* usage =
    "usage: curl-relay --upstream http://HOST:PORT [--listen HOST:PORT]\n"
    "  --listen HOST:PORT    default 127.0.0.1:0 (port 0: ephemeral, printed on stdout)\n"
    "  --upstream URL        base URL; each request's target is appended to it\n"
    "Relays POST requests (body up to 1 MiB), one after another on a keep-alive\n"
    "connection, and streams the upstream's body back chunk by chunk.\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace streamgate::relay;
  relay_options opts;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto value = [&] { return streamgate::tools::option_value(argc, argv, i); };
      if (a == "--help") {
        std::cout << usage;
        return 0;
      } else if (a == "--listen") {
        streamgate::tools::parse_listen(value(), opts.host, opts.port);
      } else if (a == "--upstream") {
        opts.upstream = value();
      } else {
        throw std::runtime_error(a + ": unknown option");
      }
    }
    if (opts.upstream.rfind("http://", 0) != 0)
      throw std::runtime_error("--upstream: expected http://HOST:PORT");
    if (opts.host.rfind("127.", 0) != 0)
      throw std::runtime_error("--listen: only loopback addresses");

    curl_relay relay{opts};
    streamgate::tools::serve_until_signal(relay, opts.host);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "curl-relay: " << e.what() << "\n" << usage;
    return 2;
  }
}
