// A registry:2 (CNCF distribution) filesystem storage, read only. Its layout
// under the storage's rootdirectory:
//
//   docker/registry/v2/blobs/sha256/<hex[0:2]>/<hex>/data              content
//   docker/registry/v2/repositories/<name>/_layers/sha256/<hex>/link   blobs the repository may serve
//   docker/registry/v2/repositories/<name>/_manifests/revisions/sha256/<hex>/link   its manifests
//   docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link      tag -> digest
//
// A link file holds "sha256:<hex>". <name> may have several path components
// (library/alpine); a directory is a repository when it holds _layers or
// _manifests, and may hold other repositories below it. Nothing here writes.
//
// The tree is untrusted: nothing below the root is followed if it is a
// symbolic link, and only regular files are opened (ops/registry2_files.h);
// what is refused is reported as a problem, never silently left out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "berth/core/digest.h"
#include "berth/core/error.h"
#include "ops/registry2_files.h"

namespace berth::ops {

struct Registry2Link {
  std::string entry;              // the directory it was found in: the hex of a digest, or a tag
  std::optional<Digest> digest;   // what the link says, when it is readable and well-formed
  std::string problem;            // else why not
  int64_t mtime = 0;              // of the link file (unix seconds): when registry:2 wrote it
};

class Registry2Layout {
 public:
  // root: the rootdirectory of registry:2's filesystem driver (it holds
  // docker/registry/v2), or that v2 directory itself. UNKNOWN when neither.
  static Result<Registry2Layout> open(const std::string& root);

  const std::string& v2() const { return v2_; }
  // The data file of a blob, opened and checked to be a regular file (NOT_FOUND when absent).
  Result<SourceFile> openBlobData(const Digest& d) const;
  // Every repository name (relative path under repositories/), sorted. The
  // names are as found: the caller checks them against the name grammar.
  // What the walk did not enter (a symbolic link, an unreadable directory)
  // goes to refused, one line each.
  std::vector<std::string> repositories(std::vector<std::string>* refused = nullptr) const;
  // The links of one repository, sorted by entry. For layers and revisions a
  // link whose digest differs from its directory's name is reported as a problem,
  // and so is a link directory that cannot be listed (its entry is the directory).
  std::vector<Registry2Link> layerLinks(const std::string& repo) const;
  std::vector<Registry2Link> revisionLinks(const std::string& repo) const;
  std::vector<Registry2Link> tagLinks(const std::string& repo) const;

 private:
  explicit Registry2Layout(std::string v2) : v2_(std::move(v2)) {}
  // Relative to v2_: every lookup goes through ops/registry2_files.h.
  static std::string repoDir(const std::string& repo) { return "repositories/" + repo; }
  std::vector<Registry2Link> digestLinks(const std::string& dir, const std::string& entry) const;
  Registry2Link readLink(const std::string& entry, const std::string& rel, bool entry_is_hex) const;

  std::string v2_;
};

}  // namespace berth::ops
