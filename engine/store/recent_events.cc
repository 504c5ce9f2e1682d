#include "engine/store/recent_events.h"

namespace cledger::store {

bool RecentEvents::Current(uint64_t keys) {
  if (keys < keys_) return false;
  if (keys > keys_) {
    events_.clear();
    bytes_ = 0;
    keys_ = keys;
  }
  return true;
}

uint64_t RecentEvents::Take(uint64_t from, uint64_t head, size_t limit, uint64_t keys,
                            std::vector<Event>& out) {
  std::vector<std::shared_ptr<const Event>> found;
  {
    std::lock_guard lock(mu_);
    if (!Current(keys)) return from;
    for (auto it = events_.find(from); it != events_.end() && it->first == from + found.size() &&
                                       it->first <= head && found.size() < limit;
         ++it) {
      found.push_back(it->second.event);
    }
  }
  for (const auto& event : found) out.push_back(*event);  // copied outside the lock
  return from + found.size();
}

void RecentEvents::Keep(std::span<const Event> events, std::span<const size_t> stored_bytes,
                        uint64_t head, uint64_t keys, uint64_t keys_now) {
  if (keys != keys_now) return;
  std::vector<Kept> fresh;
  for (size_t i = 0; i < events.size(); ++i) {
    // A rebuild reading the whole log copies nothing here.
    if (events[i].position + window_ <= head) continue;
    if (events[i].personal == Personal::kUnreadable) continue;
    // Decoded, an event holds its stored bytes about twice: fields in the clear and sealed.
    fresh.push_back({std::make_shared<const Event>(events[i]), 2 * stored_bytes[i]});
  }
  std::lock_guard lock(mu_);
  if (!Current(keys)) return;
  for (Kept& kept : fresh) {
    const uint64_t position = kept.event->position;
    const size_t bytes = kept.bytes;
    if (events_.emplace(position, std::move(kept)).second) bytes_ += bytes;
  }
  while (bytes_ > bytes_max_ && !events_.empty()) {
    bytes_ -= events_.begin()->second.bytes;
    events_.erase(events_.begin());
  }
}

void RecentEvents::Clear() {
  std::lock_guard lock(mu_);
  events_.clear();
  bytes_ = 0;
}

}  // namespace cledger::store
