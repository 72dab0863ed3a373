#pragma once

#include "actors/provider_actor.hpp"
#include "providers/http/provider_config.hpp"

#include <atomic>
#include <cstdint>
#include <memory>

namespace streamgate {

class transfer_runner;

// A provider reached over HTTP (OpenAI-compatible or an older adapter): each open spawns an
// upstream_stream actor that owns one transfer on the shared driver (the process's curl
// driver). `upstreams` counts streams alive (the engine's active-upstream gauge).
provider_actor::behavior_type http_provider(provider_actor::pointer self,
                                            http_provider_config config,
                                            std::shared_ptr<transfer_runner> driver,
                                            std::atomic<std::int64_t>* upstreams);

}  // namespace streamgate
