#include "transports/ws/ws_stream_table.hpp"

#include <utility>

namespace streamgate {

ws_stream_table::stream* ws_stream_table::find(const std::string& id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

ws_stream_table::entry* ws_stream_table::of(const event_sink* sink) const {
  auto it = by_sink_.find(sink);
  return it == by_sink_.end() ? nullptr : it->second;
}

ws_stream_table::entry& ws_stream_table::add(const std::string& id, std::string session,
                                             std::shared_ptr<event_sink> sink) {
  if (auto* old = find(id)) by_sink_.erase(old->sink.get());
  auto* key = sink.get();
  auto& e = *streams_.insert_or_assign(id, stream{std::move(session), std::move(sink), {}}).first;
  if (key) by_sink_[key] = &e;  // a resume's sink comes with its attach (feed_from)
  return e;
}

ws_stream_table::entry& ws_stream_table::feed_from(const std::string& id,
                                                   std::shared_ptr<event_sink> sink) {
  auto& e = *streams_.try_emplace(id).first;
  by_sink_.erase(e.second.sink.get());
  e.second.sink = std::move(sink);
  by_sink_[e.second.sink.get()] = &e;
  return e;
}

bool ws_stream_table::erase(const std::string& id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return false;
  by_sink_.erase(it->second.sink.get());
  streams_.erase(it);
  return true;
}

std::map<std::string, ws_stream_table::stream> ws_stream_table::take_all() {
  by_sink_.clear();
  return std::exchange(streams_, {});
}

}  // namespace streamgate
