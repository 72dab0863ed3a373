#pragma once

#include "tools/fake_upstream/fake_server.hpp"

#include <cstdint>
#include <string>

namespace streamgate::test {

// A fake upstream on a loopback port serving `chunks` chunks `interval_ms` apart.
struct paced_upstream {
  paced_upstream(std::uint32_t chunks, std::uint32_t interval_ms)
      : server{[&] {
          fake::server_options fo;
          fo.defaults.chunks = chunks;
          fo.defaults.interval_ms = interval_ms;
          return fo;
        }()} {
    server.start();
    url = "http://127.0.0.1:" + std::to_string(server.port());
  }
  fake::fake_server server;
  std::string url;
};

}  // namespace streamgate::test
