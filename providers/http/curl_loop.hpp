#pragma once

// Private to the curl driver: what its facade posts starts and cancels to.

#include "providers/http/curl_multi.hpp"

#include <memory>

namespace streamgate {

// Runs one curl_multi on one thread, or strand: its own (curl_thread_loop) or an io_context's
// (curl_asio_loop). Any thread may post to it.
class curl_loop : public curl_multi::pump {
 public:
  // A start or a cancel, handed to the thread that runs the driver.
  struct command {
    std::unique_ptr<curl_multi::transfer> start;  // or else:
    transfer_id cancel = 0;
    curl_multi::clock_type::time_point asked;

    void run(curl_multi& m) {
      if (start)
        m.add_transfer(std::move(start));
      else
        m.cancel_transfer(cancel, asked);
    }
  };

  virtual void post(command c) = 0;
  // Removes every transfer; returns once that has run (or could not: a stopped io_context).
  virtual void stop() = 0;

 protected:
  curl_multi multi_;
};

}  // namespace streamgate
