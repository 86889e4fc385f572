#include "storage/read_connections.h"

#include <algorithm>
#include <stdexcept>

namespace berth::storage {

ReadConnections::ReadConnections(const std::string& path, std::size_t count) {
  slots_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto slot = std::make_unique<Slot>();
    // synchronous does not apply to a connection that never writes.
    slot->db = std::make_unique<SqliteDb>(path, SyncMode::Normal);
    // A stray write through a read connection would bypass the writer's
    // mutex and its transactions: refused by SQLite itself.
    if (auto st = slot->db->exec("PRAGMA query_only=ON"); !st) throw std::runtime_error(st.error().message);
    slots_.push_back(std::move(slot));
  }
}

ReadConnections::Lease ReadConnections::acquire() {
  // Start at a rotating slot so that concurrent readers spread out, and take
  // the first free one; when all are busy, wait on the starting one.
  const std::size_t n = slots_.size();
  const std::size_t start = next_.fetch_add(1, std::memory_order_relaxed) % n;
  for (std::size_t i = 0; i < n; ++i) {
    auto& slot = *slots_[(start + i) % n];
    std::unique_lock lock(slot.mu, std::try_to_lock);
    if (lock.owns_lock()) return Lease(std::move(lock), slot.db.get());
  }
  auto& slot = *slots_[start];
  return Lease(std::unique_lock(slot.mu), slot.db.get());
}

std::size_t ReadConnections::sizeFor(unsigned cores) {
  return std::clamp<std::size_t>(2 * static_cast<std::size_t>(cores), 2, 16);
}

}  // namespace berth::storage
