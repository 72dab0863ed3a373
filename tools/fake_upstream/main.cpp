// fake-upstream: a fault-injecting OpenAI-compatible streaming server for tests, benchmarks
// and chaos scripts (docs/fake-upstream.md).

#include "tools/fake_upstream/fake_server.hpp"
#include "tools/tool_main.hpp"

#include <cstring>
#include <iostream>
#include <string>

namespace {

const char* usage =
    "usage: fake-upstream [options]\n"
    "  --listen HOST:PORT   default 127.0.0.1:0 (port 0: ephemeral, printed on stdout)\n"
    "  --threads N          I/O threads (default 1)\n"
    "  --chunks N           content chunks per stream (default 16)\n"
    "  --chunk-size BYTES   bytes of content per chunk (default 8)\n"
    "  --interval-ms MS     delay between chunks (default 0)\n"
    "  --first-byte-ms MS   delay before the response starts (default 0)\n"
    "  --require-key KEY    answer 401 unless 'Authorization: Bearer KEY'\n"
    "  --behaviour SPEC     default faults for every request, e.g. 'status=503' or\n"
    "                       'drop_after=3,interval_ms=10' (keys: docs/fake-upstream.md)\n"
    "  --allow-remote       allow a non-loopback listen address\n"
    "Per request: header 'X-Fake: key=value;...' or model 'name@key=value,...'.\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace streamgate::fake;
  server_options opts;
  bool allow_remote = false;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto value = [&] { return streamgate::tools::option_value(argc, argv, i); };
      auto number = [&]() { return static_cast<std::uint32_t>(std::stoul(value())); };
      if (a == "--help") {
        std::cout << usage;
        return 0;
      } else if (a == "--listen") {
        streamgate::tools::parse_listen(value(), opts.host, opts.port);
      } else if (a == "--threads") {
        opts.threads = number();
      } else if (a == "--chunks") {
        opts.defaults.chunks = number();
      } else if (a == "--chunk-size") {
        opts.defaults.chunk_size = number();
      } else if (a == "--interval-ms") {
        opts.defaults.interval_ms = number();
      } else if (a == "--first-byte-ms") {
        opts.defaults.first_byte_ms = number();
      } else if (a == "--behaviour") {
        if (auto err = apply_spec(value(), ',', opts.defaults))
          throw std::runtime_error("--behaviour: " + *err);
      } else if (a == "--require-key") {
        opts.require_key = value();
      } else if (a == "--allow-remote") {
        allow_remote = true;
      } else {
        throw std::runtime_error(a + ": unknown option");
      }
    }
    if (!allow_remote && opts.host.rfind("127.", 0) != 0 && opts.host != "localhost")
      throw std::runtime_error("--listen: only loopback addresses unless --allow-remote");
    if (opts.host == "localhost") opts.host = "127.0.0.1";

    fake_server server{opts};
    streamgate::tools::serve_until_signal(server, opts.host);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "fake-upstream: " << e.what() << "\n" << usage;
    return 2;
  }
}
