#pragma once

#include "actors/provider_actor.hpp"

#include <memory>

namespace streamgate {

class http_upstream;

// A provider reached over HTTP (OpenAI-compatible or an older adapter). Sessions whose route
// carries its opener (`upstream`) start their transfers themselves; this actor supervises
// them: when it ends with an error (a crash), every transfer it started ends too, and
// sessions fail over. An open_atom still works: the transfer is then held by an
// upstream_stream actor.
provider_actor::behavior_type http_provider(provider_actor::pointer self,
                                            std::shared_ptr<http_upstream> upstream);

}  // namespace streamgate
