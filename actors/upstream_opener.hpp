#pragma once

#include <streamgate/chat_request.hpp>
#include <streamgate/stream_event.hpp>

#include <cstdint>
#include <functional>
#include <memory>

namespace streamgate {

class event_log;

// Where one attempt's events go: the deltas into the session's log through the lane, the one
// terminal event to `on_terminal` (from whichever thread ends the transfer: the driver's, or
// the thread its provider ends on). Nothing is delivered after a cancel.
struct upstream_lane {
  std::uint32_t attempt = 0;
  std::shared_ptr<event_log> log;
  std::function<void(stream_event)> on_terminal;
};

// One running upstream transfer, held by whoever started it. Dropping the handle cancels the
// transfer: whatever ends its holder (a session's crash among them), the upstream socket is
// closed.
class upstream_transfer {
 public:
  virtual ~upstream_transfer() = default;
  // Ends the transfer and closes its connection; a no-op once it has ended.
  virtual void cancel() = 0;
};

// A provider that starts transfers on its caller's thread, with no actor between the session
// and the transfer (issue 22: three actor activations fewer to set a stream up, two fewer to
// end it). Thread-safe. Its provider actor still supervises it: when that actor ends, every
// transfer it started ends with an error event and no new one starts.
class upstream_opener {
 public:
  virtual ~upstream_opener() = default;
  // Null when the provider has gone down: ask for its current handles and try again.
  virtual std::unique_ptr<upstream_transfer> open(const chat_request& request,
                                                  upstream_lane lane) = 0;
};

using upstream_opener_ptr = std::shared_ptr<upstream_opener>;

}  // namespace streamgate
