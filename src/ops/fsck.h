// `berth fsck`: checks a storage root's metadata against its blob store and
// reports what is wrong, changing nothing (docs/operations.md).
//
//   every blob link (repository, image, digest) -> a blob file of the recorded size
//   every manifest row -> a file whose bytes hash to its digest, of its size, that parses
//   every reference of a manifest (config, layers, index children) -> a blob
//       linked to (or a manifest stored in) the same image, and recorded in
//       manifest_refs (what garbage collection marks from)
//   every tag -> a manifest of its image
//   every blob file -> content that hashes to its name (not with `quick`)
//   stray files: names that are no digest, temp and upload files nobody owns
//       that are older than stale_seconds (warnings)
//
// Read-only: the metadata is read through storage/metadata_snapshot.h, files
// are opened O_RDONLY. It may run beside a daemon: the metadata is read in one
// snapshot, and every problem that involves a file (a missing blob, a wrong
// size) is confirmed against a second snapshot and a fresh stat before it is
// reported, so a delete or a garbage collection that ran meanwhile is no
// problem. Remote repositories' caches are lazy: a cached manifest whose
// layers were never pulled is complete, so missing references are not checked
// there.
//
// Thread safety: free functions, no shared state.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "berth/config.h"
#include "berth/core/error.h"

namespace berth::ops {

enum class FsckSeverity { Error, Warning };

// Kinds (stable names: scripts and the JSON report use them).
namespace fsck_kind {
inline constexpr const char* kBlobMissing = "blob_missing";              // link, no file
inline constexpr const char* kBlobSize = "blob_size";                    // link's size differs from the file's
inline constexpr const char* kBlobDigest = "blob_digest";                // content does not hash to the name
inline constexpr const char* kBlobUnreadable = "blob_unreadable";        // I/O error reading a blob file
inline constexpr const char* kManifestMissing = "manifest_missing";      // manifest row, no file
inline constexpr const char* kManifestDigest = "manifest_digest";        // bytes do not hash to the digest
inline constexpr const char* kManifestSize = "manifest_size";            // row's size differs from the bytes'
inline constexpr const char* kManifestInvalid = "manifest_invalid";      // bytes do not parse
inline constexpr const char* kReferenceMissing = "reference_missing";    // referenced blob/manifest not in the image
inline constexpr const char* kReferenceUnrecorded = "reference_unrecorded";  // not in manifest_refs
inline constexpr const char* kTagDangling = "tag_dangling";              // tag -> no manifest of its image
// Warnings.
inline constexpr const char* kStrayFile = "stray_file";                  // not a digest name, or wrong place
inline constexpr const char* kStaleTemp = "stale_temp";                  // old tmp/ file, old upload without session
inline constexpr const char* kUnknownRepository = "repository_unconfigured";  // rows of a key not in the config
}  // namespace fsck_kind

struct FsckProblem {
  FsckSeverity severity = FsckSeverity::Error;
  std::string kind;
  // What it names; empty when not applicable. path is relative to the storage root.
  std::string repo, image, digest, tag, path;
  std::string reference;  // reference_*: the digest the manifest references
  std::string message;
};

struct FsckOptions {
  bool quick = false;              // skip hashing blob files (manifests are still hashed)
  int64_t stale_seconds = 86400;   // temp files older than this are reported
  // Tests: runs after the first pass, before its file problems are confirmed
  // (where a delete or a garbage collection running beside fsck strikes).
  std::function<void()> before_confirm;
};

struct FsckStats {
  uint64_t blob_links = 0, manifests = 0, tags = 0, blob_files = 0, bytes_hashed = 0;
  // Blob files that no link, manifest row or manifest reference names:
  // garbage for GC, not a problem.
  uint64_t unreferenced_blobs = 0, unreferenced_bytes = 0;
  bool metadata_immutable = false;  // the database was read with immutable=1 (nobody had it open)
  double seconds = 0;
};

struct FsckReport {
  std::vector<FsckProblem> problems;  // errors first, then by kind and what they name
  FsckStats stats;
  bool quick = false;

  std::size_t errors() const;
  std::size_t warnings() const;
  int exitCode() const { return errors() > 0 ? 1 : 0; }  // warnings alone: 0
};

// The repository types by key, as configured: remote caches are checked as
// such; rows of a key not in the map are checked as local, with a warning.
using RepoTypes = std::map<std::string, config::RepoType>;

// Checks the store under root. `repos` are the config file's; those the
// repository API created (in the metadata database) are added to them. An
// Error means it could not run (no metadata database, the blob directory
// unreadable): exit code 2.
Result<FsckReport> checkStore(const std::string& root, const RepoTypes& repos, const FsckOptions& options);

// One line per problem, then a summary line.
std::string formatFsckText(const FsckReport& report);
// {"clean","exit_code","errors","warnings","problems":[...],"checked":{...},"quick","seconds"}
std::string formatFsckJson(const FsckReport& report);

// `berth fsck`: checks cfg.storage.root, prints the report (text or JSON) on
// stdout and returns the exit code: 0 clean, 1 problems, 2 could not run
// (the reason on stderr, and as {"exit_code":2,"error":...} with json).
int runFsck(const config::Config& cfg, const FsckOptions& options, bool json);

}  // namespace berth::ops
