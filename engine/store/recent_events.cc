#include "engine/store/recent_events.h"

namespace cledger::store {

bool RecentEvents::Current(uint64_t keys) {
  if (keys < keys_) return false;
  if (keys > keys_) {
    events_.clear();
    keys_ = keys;
  }
  return true;
}

uint64_t RecentEvents::Take(uint64_t from, uint64_t head, size_t limit, uint64_t keys,
                            std::vector<Event>& out) {
  std::lock_guard lock(mu_);
  if (!Current(keys)) return from;
  uint64_t next = from;
  for (auto it = events_.find(from);
       it != events_.end() && it->first == next && next <= head && limit > 0; ++it, ++next) {
    out.push_back(it->second);
    --limit;
  }
  return next;
}

void RecentEvents::Keep(std::span<const Event> events, uint64_t head, uint64_t keys,
                        uint64_t keys_now) {
  const uint64_t oldest = head > capacity_ ? head - capacity_ + 1 : 1;
  if (keys != keys_now || events.empty() || events.back().position < oldest) return;
  std::lock_guard lock(mu_);
  if (!Current(keys)) return;
  for (const Event& event : events) {
    if (event.position >= oldest && event.personal != Personal::kUnreadable) {
      events_.emplace(event.position, event);
    }
  }
  while (events_.size() > capacity_) events_.erase(events_.begin());
}

void RecentEvents::Clear() {
  std::lock_guard lock(mu_);
  events_.clear();
}

}  // namespace cledger::store
