#include "providers/http_provider.hpp"

#include "providers/http_upstream.hpp"
#include "providers/upstream_stream.hpp"

#include <caf/all.hpp>

namespace streamgate {

provider_actor::behavior_type http_provider(provider_actor::pointer self,
                                            std::shared_ptr<http_upstream> upstream) {
  // Like the mock: a provider crash ends its streams, and sessions fail over. A provider that
  // quits normally leaves them be, as a link would.
  self->attach_functor([upstream](const caf::error& reason) {
    if (reason) upstream->close(caf::to_string(reason));
  });
  return {
      [self, upstream](open_atom, const chat_request& req,
                       upstream_target& target) -> upstream_actor {
        return spawn_upstream_stream(self, upstream, req, std::move(target));
      },
  };
}

}  // namespace streamgate
