// A start-up check of the storage root, before anything is opened in it, so
// that a directory Berth may not write (a root-owned bind mount of a
// container running as uid 999, data left by a run as another user) stops
// the start with what to do, instead of a bare "mkdir ...: Permission denied"
// from deep inside the blob store.
#pragma once

#include <string>

namespace berth::server {

// Creates the root if it is missing and checks that this process can write
// it and the directories and database files already in it. Throws
// std::runtime_error naming the path, its owner and mode, this process's
// uid and gid, and the fixes.
void checkStorageRoot(const std::string& root);

}  // namespace berth::server
