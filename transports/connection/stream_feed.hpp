#pragma once

#include <cstdint>

namespace streamgate {

// Where a client stream's events come from while it resumes: a resume first replays the
// session's log, in parts that fit the client's budget (docs/architecture.md, "replays that
// fit it"), then goes live. Each part comes through a new sink, so the events of the sink
// before it are recognisably stale.
class stream_feed {
 public:
  bool live() const { return now_ == state::live; }
  bool replaying() const { return now_ == state::replaying; }
  bool paused() const { return now_ == state::paused; }
  // The seq a paused replay goes on after.
  std::uint64_t paused_after() const { return paused_after_; }

  // A new sink attaches after some seq: the log's replay arrives first.
  void replay() { now_ = state::replaying; }
  // The replay stops after `after` until the client has read; false if it already did.
  bool pause(std::uint64_t after) {
    if (paused()) return false;
    now_ = state::paused;
    paused_after_ = after;
    return true;
  }
  // The replay is complete (or there was none): events arrive as they happen.
  void go_live() { now_ = state::live; }

 private:
  enum class state { live, replaying, paused };
  state now_ = state::live;
  std::uint64_t paused_after_ = 0;
};

}  // namespace streamgate
