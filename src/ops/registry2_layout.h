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
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "berth/core/digest.h"
#include "berth/core/error.h"

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
  std::string blobData(const Digest& d) const;
  // Every repository name (relative path under repositories/), sorted. The
  // names are as found: the caller checks them against the name grammar.
  std::vector<std::string> repositories() const;
  // The links of one repository, sorted by entry. For layers and revisions a
  // link whose digest differs from its directory's name is reported as a problem.
  std::vector<Registry2Link> layerLinks(const std::string& repo) const;
  std::vector<Registry2Link> revisionLinks(const std::string& repo) const;
  std::vector<Registry2Link> tagLinks(const std::string& repo) const;

 private:
  explicit Registry2Layout(std::string v2) : v2_(std::move(v2)) {}
  std::string repoDir(const std::string& repo) const { return v2_ + "/repositories/" + repo; }

  std::string v2_;
};

}  // namespace berth::ops
