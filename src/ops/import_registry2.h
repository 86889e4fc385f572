// berth import-registry2: a registry:2 filesystem storage into one local
// repository of Berth (docs/operations.md, "Migrating from registry:2").
//
// Every blob is verified (streaming SHA-256) on its way in and installed the
// way the daemon installs one (FsBlobStore::install: fsync, rename, directory
// fsync), hard-linked from the source when both are on one filesystem, else
// copied; the source is only read. The source is untrusted: each file is
// opened once, without following symbolic links, checked to be a regular
// file, and hashed, linked or copied through that one descriptor
// (ops/registry2_files.h); a data file with other hard links is copied, not
// linked, since another of its names could be written in place. Metadata goes through the MetadataStore,
// one short transaction per write, so a running daemon may share the store:
// blob before link, links before manifest, children before index, manifest
// before tag, each write checking its references as a push does. A tag Berth
// already has for another manifest is kept and reported. Running it again
// writes nothing new. For its whole run it holds the storage root's lock
// shared (as a daemon does: no offline `berth gc` meanwhile) and the sweep
// lock (storage/sweep_lock.h), which keeps a running daemon's collector from
// removing a blob it installed or found before it references it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "berth/storage/blob_store.h"
#include "berth/storage/metadata_store.h"
#include "ops/registry2_layout.h"
#include "storage/paths.h"

namespace berth::ops {

struct ImportCount {
  uint64_t imported = 0, present = 0, skipped = 0;  // present: Berth had it already
};

struct ImportReport {
  ImportCount images, blobs, links, manifests, tags;
  uint64_t hard_linked = 0, copied = 0;  // how the imported blobs came in
  uint64_t bytes = 0;                    // bytes of the imported blobs
  std::vector<std::string> skipped;      // one line per thing skipped, with the reason
  std::string current;                   // the image being imported (for progress)
  std::size_t image_index = 0, image_total = 0;
};

class Registry2Importer {
 public:
  // Called after each blob and manifest; cheap calls only.
  using Progress = std::function<void(const ImportReport&)>;

  // store: the blob store's layout (blobs are staged in its tmp/; its locks).
  Registry2Importer(const Registry2Layout& source, const storage::Paths& store, storage::BlobStore& blobs,
                    storage::MetadataStore& meta, std::string repo_key);
  // Imports every repository of the source. Storage errors of Berth's side
  // are reported as skipped items too: the import goes on with the rest.
  // Throws std::runtime_error when the locks cannot be taken (`berth gc` runs).
  ImportReport run(const Progress& progress = {});

 private:
  enum class BlobKind { Ready, Missing, Corrupt, Failed };
  struct BlobState {
    BlobKind kind = BlobKind::Failed;
    uint64_t size = 0;
    std::string why;  // for Corrupt and Failed
  };
  struct Pending {  // a manifest revision, parsed
    Digest digest;
    storage::ManifestWrite write;
  };

  void importImage(const std::string& name);
  // Layer links of the image; a digest already linked counts once.
  bool ensureLink(const std::string& name, const Digest& d, const std::string& why_needed);
  // Reads and parses a revision (its blob imported first); nullopt when skipped.
  std::optional<Pending> readRevision(const std::string& name, const Registry2Link& link);
  // Writes the manifests children first; returns the digests recorded (new or present).
  std::set<std::string> recordManifests(const std::string& name, std::vector<Pending> pending);
  void importTags(const std::string& name, const std::map<std::string, storage::ManifestWrite>& writes,
                  const std::set<std::string>& revisions, const std::set<std::string>& recorded);

  // Memoized: each digest is verified and installed once per run.
  const BlobState& blob(const Digest& d);
  BlobState installBlob(const Digest& d);
  struct Staged {
    Digest digest;
    uint64_t size = 0;
    bool linked = false;
  };
  // Hashes src while hard-linking or copying it to tmp, all through src's descriptor.
  Result<Staged> stage(const SourceFile& src, const std::string& tmp);
  static std::string describe(const BlobState& s);

  void skip(std::string line) { report_.skipped.push_back(std::move(line)); }
  void tick() {
    if (progress_) progress_(report_);
  }

  const Registry2Layout& source_;
  storage::Paths store_;
  storage::BlobStore& blobs_;
  storage::MetadataStore& meta_;
  std::string repo_key_;
  ImportReport report_;
  Progress progress_;
  std::map<std::string, BlobState> blob_states_;    // by hex
  std::map<std::string, bool> linked_;              // "<name>@<hex>" -> linked, for links tried in this run
};

}  // namespace berth::ops
