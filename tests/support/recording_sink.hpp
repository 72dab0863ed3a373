#pragma once

#include <streamgate/event_sink.hpp>
#include <streamgate/stream_event.hpp>

#include <string>
#include <utility>
#include <vector>

namespace streamgate::test {

// Records what a session delivers; can pretend to be a client that stopped reading.
class recording_sink : public event_sink {
 public:
  bool deliver(const event_ptr& ev) override {
    if (full) return false;
    events.push_back(*ev);
    return true;
  }
  // A replay: takes `room` more events, then is full.
  bool offer(const event_ptr& ev) override {
    if (room == 0) return false;
    --room;
    return deliver(ev);
  }
  void replay_paused(std::uint64_t last_seq) override { paused_after.push_back(last_seq); }
  void attached(std::uint64_t last_seq, bool ended) override {
    attach_reports.emplace_back(last_seq, ended);
  }
  void detached(detach_reason why) override { detach_reasons.push_back(why); }
  const char* transport() const override { return "test"; }

  std::string text() const {
    std::string out;
    for (auto& e : events)
      if (e.kind == event_kind::delta) out += e.text;
    return out;
  }
  std::size_t terminal_count() const {
    std::size_t n = 0;
    for (auto& e : events) n += e.terminal() ? 1 : 0;
    return n;
  }
  const stream_event& last() const { return events.back(); }

  bool full = false;
  std::size_t room = static_cast<std::size_t>(-1);
  std::vector<std::uint64_t> paused_after;
  std::vector<stream_event> events;
  std::vector<std::pair<std::uint64_t, bool>> attach_reports;
  std::vector<detach_reason> detach_reasons;
};

}  // namespace streamgate::test
