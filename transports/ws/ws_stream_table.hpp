#pragma once

#include "transports/connection/stream_feed.hpp"

#include <streamgate/event_sink.hpp>

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

namespace streamgate {

// The streams of one WebSocket connection, by the client's stream id and by the sink that
// feeds each: the sink is looked up for every token, on sockets of up to ws_max_streams
// streams. Not thread-safe: the connection's guard covers it.
class ws_stream_table {
 public:
  struct stream {
    std::string session;  // empty until the session exists (a start in progress)
    std::shared_ptr<event_sink> sink;
    stream_feed feed;
  };
  using entry = std::map<std::string, stream>::value_type;

  bool contains(const std::string& id) const { return streams_.count(id) != 0; }
  std::size_t size() const { return streams_.size(); }
  stream* find(const std::string& id);
  // The stream `sink` feeds; null for a sink no longer current (its events are stale).
  entry* of(const event_sink* sink) const;

  // Stream `id`, new or replaced, fed by `sink`.
  entry& add(const std::string& id, std::string session, std::shared_ptr<event_sink> sink);
  // Stream `id` (new if absent) fed from now on by `sink` instead of its previous one.
  entry& feed_from(const std::string& id, std::shared_ptr<event_sink> sink);
  bool erase(const std::string& id);
  // Forgets every stream; returns them, to be let go of.
  std::map<std::string, stream> take_all();

  auto begin() { return streams_.begin(); }
  auto end() { return streams_.end(); }

 private:
  // A map's entries stay where they are until erased: the index points into it, and every
  // removal forgets the sink there first.
  std::map<std::string, stream> streams_;
  std::unordered_map<const event_sink*, entry*> by_sink_;
};

}  // namespace streamgate
