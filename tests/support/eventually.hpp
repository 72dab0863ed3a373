#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace streamgate::test {

// Waits for a condition that an event elsewhere will make true, checking often, bounded by
// `limit`: the tests' way to await what has no callback (counters in another process/thread).
// Header-only, so tests that do not link the server's support library use it too.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace streamgate::test
