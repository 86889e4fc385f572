#include "server/gc_command.h"

#include <spdlog/spdlog.h>

#include <iostream>

#include "ops/gc.h"
#include "repo/upload_store.h"
#include "storage/fs_blob_store.h"
#include "storage/root_lock.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::server {

int runGcCommand(const config::Config& cfg, bool dry_run) {
  try {
    storage::Paths paths(cfg.storage.root);
    // Offline means offline: a live server's writers are fenced only within
    // its own process, so a sweep from here could race them.
    auto lock = storage::RootLock::acquire(paths.lockFile(), storage::RootLock::Mode::Exclusive);
    if (!lock) {
      std::cerr << "berth gc: " << lock.error().message << " (" << paths.root()
                << "); stop it, or ask it: POST /api/system/storage/gc\n";
      return 1;
    }
    // A dry run changes nothing, not even the scratch directory.
    auto blobs = std::make_shared<storage::FsBlobStore>(paths, /*clear_tmp=*/!dry_run);
    auto meta = std::make_shared<storage::SqliteMetadataStore>(
        paths.metadataDb(), cfg.storage.metadata_sync == "normal" ? storage::SyncMode::Normal : storage::SyncMode::Full);
    auto uploads = std::make_shared<repo::UploadStore>(paths, meta, blobs);
    ops::GarbageCollector gc(paths, blobs, meta, uploads);
    gc.setCacheRetention([&cfg] { return ops::cacheRetention(cfg.repositories); });
    auto options = ops::gcOptions(cfg.gc);
    options.dry_run = dry_run;
    auto r = gc.run(options);
    if (!r) {
      std::cerr << "berth gc: " << r.error().message << "\n";
      return 1;
    }
    std::cout << (dry_run ? "dry run: would free " : "freed ") << r->blobs << " blobs (" << r->bytes << " bytes), "
              << r->uploads << " uploads, " << r->directories << " empty directories; "
              << (dry_run ? "would evict " : "evicted ") << r->evicted_manifests << " cached manifests ("
              << r->evicted_tags << " tags) in " << r->duration_ms << " ms\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "berth gc: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace berth::server
