#include <streamgate/stream_event.hpp>

namespace streamgate {

const char* to_string(event_kind k) {
  switch (k) {
    case event_kind::delta:
      return "delta";
    case event_kind::usage:
      return "usage";
    case event_kind::finish:
      return "finish";
    case event_kind::error:
      return "error";
    case event_kind::cancelled:
      return "cancelled";
    case event_kind::heartbeat:
      return "heartbeat";
  }
  return "unknown";
}

}  // namespace streamgate
