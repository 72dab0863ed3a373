// A configuration file (--config), through apply_config_json (app/config.cpp) and the
// provider readers behind it.
//
// Properties: the only way to refuse is config_error, whose message names where; an
// accepted configuration is consistent: at least one provider, unique provider names,
// pools and routes that name what exists, a listen port and bounded limits.
#include "app/config.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

namespace {

using namespace streamgate;

void check_accepted(const app_config& cfg) {
  const auto& g = cfg.gateway;
  SG_FUZZ_CHECK(!g.providers.empty());
  std::set<std::string> names;
  for (auto& p : g.providers) {
    SG_FUZZ_CHECK(!p.name.empty() && names.insert(p.name).second);
    SG_FUZZ_CHECK(!p.models.empty());
    SG_FUZZ_CHECK(p.pool.empty() || g.pools.count(p.pool) == 1);
    if (p.kind != "mock") {
      SG_FUZZ_CHECK(p.http.base_url.rfind("http://", 0) == 0 ||
                    p.http.base_url.rfind("https://", 0) == 0);
      for (auto& [name, value] : p.http.headers)
        SG_FUZZ_CHECK(name.find_first_of(":\r\n") == std::string::npos &&
                      value.find_first_of("\r\n") == std::string::npos);
    }
  }
  for (auto& [model, route] : g.routes) {
    SG_FUZZ_CHECK(!route.targets.empty());
    for (auto& t : route.targets) SG_FUZZ_CHECK(names.count(t.provider) == 1);
  }
  SG_FUZZ_CHECK(cfg.http.threads >= 1 && cfg.http.threads <= 64);
  SG_FUZZ_CHECK(cfg.actor_threads >= 1 && cfg.actor_threads <= 64);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text{reinterpret_cast<const char*>(data), size};
  app_config cfg;
  try {
    apply_config_json(text, cfg);
  } catch (const config_error& e) {
    SG_FUZZ_CHECK(e.what()[0] != '\0');
    return 0;
  }
  check_accepted(cfg);
  return 0;
}
