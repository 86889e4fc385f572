// The one place that knows Berth's disk layout under storage.root:
//
//   <root>/blobs/sha256/<hex[0:2]>/<hex>   verified blob content (layers, configs, manifests)
//   <root>/uploads/<uuid>                  data of an unfinished upload session
//   <root>/tmp/<random>                    scratch files for small writes; emptied at start
//   <root>/metadata.db (+ -wal, -shm)      SQLite: links, manifests, tags, upload sessions
//   <root>/berth.lock                      flock: serving daemons and imports shared, `berth gc` exclusive
//   <root>/sweep.lock                      flock: imports shared, each GC sweep batch exclusive (storage/sweep_lock.h)
//
// Blobs and uploads share one filesystem so that committing is a rename.
#pragma once

#include <string>

#include "berth/core/digest.h"

namespace berth::storage {

class Paths {
 public:
  explicit Paths(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }
  std::string blobsDir() const { return root_ + "/blobs/sha256"; }
  std::string blobShardDir(const std::string& hex) const { return blobsDir() + "/" + hex.substr(0, 2); }
  std::string blob(const Digest& d) const { return blobShardDir(d.hex()) + "/" + d.hex(); }
  std::string uploadsDir() const { return root_ + "/uploads"; }
  std::string upload(const std::string& uuid) const { return uploadsDir() + "/" + uuid; }
  std::string tmpDir() const { return root_ + "/tmp"; }
  std::string metadataDb() const { return root_ + "/metadata.db"; }
  std::string lockFile() const { return root_ + "/berth.lock"; }

 private:
  std::string root_;
};

}  // namespace berth::storage
