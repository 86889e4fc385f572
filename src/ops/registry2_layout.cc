#include "ops/registry2_layout.h"

#include <sys/stat.h>

#include <algorithm>
#include <functional>

namespace berth::ops {
namespace {

bool isDir(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// A link file is a few dozen bytes; anything longer is not one.
constexpr std::size_t kMaxLinkBytes = 256;

}  // namespace

Registry2Link Registry2Layout::readLink(const std::string& entry, const std::string& rel, bool entry_is_hex) const {
  Registry2Link link{entry, std::nullopt, "", 0};
  auto file = openFileBeneath(v2_, rel);
  if (!file) {
    link.problem = file.error().code == ErrorCode::NotFound ? "no link file" : file.error().message;
    return link;
  }
  link.mtime = file->st.st_mtime;
  auto read = readCapped(*file, kMaxLinkBytes);
  if (!read) {
    link.problem = "unreadable link file";
    return link;
  }
  std::string text = std::move(*read);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) text.pop_back();
  auto digest = text.size() <= kMaxLinkBytes ? Digest::parse(text) : Result<Digest>(tl::unexpected(Error{}));
  if (!digest) {
    link.problem = "malformed link file";
    return link;
  }
  if (entry_is_hex && digest->hex() != entry) {
    link.problem = "link file names " + digest->str() + ", not the digest of its directory";
    return link;
  }
  link.digest = *digest;
  return link;
}

// dir: relative to v2_; entry: how to name dir in a problem.
std::vector<Registry2Link> Registry2Layout::digestLinks(const std::string& dir, const std::string& entry) const {
  std::vector<Registry2Link> out;
  auto entries = listBeneath(v2_, dir);
  if (!entries) {
    if (entries.error().code != ErrorCode::NotFound) out.push_back({entry, std::nullopt, entries.error().message, 0});
    return out;
  }
  for (const auto& e : *entries)
    out.push_back(e.symlink ? Registry2Link{e.name, std::nullopt, "a symbolic link (not followed)", 0}
                            : readLink(e.name, dir + "/" + e.name + "/link", true));
  return out;
}

Result<Registry2Layout> Registry2Layout::open(const std::string& root) {
  for (std::string v2 : {root + "/docker/registry/v2", root})
    if (isDir(v2 + "/blobs") || isDir(v2 + "/repositories")) return Registry2Layout(v2);
  return fail(ErrorCode::Unknown,
              "not a registry:2 filesystem storage (neither docker/registry/v2 nor blobs/ and repositories/ in it)",
              root);
}

Result<SourceFile> Registry2Layout::openBlobData(const Digest& d) const {
  return openFileBeneath(v2_, "blobs/sha256/" + d.hex().substr(0, 2) + "/" + d.hex() + "/data");
}

std::vector<std::string> Registry2Layout::repositories(std::vector<std::string>* refused) const {
  std::vector<std::string> out;
  auto refuse = [&](const std::string& line) {
    if (refused) refused->push_back(line);
  };
  std::function<void(const std::string&)> walk = [&](const std::string& rel) {
    auto children = listBeneath(v2_, rel.empty() ? "repositories" : repoDir(rel));
    if (!children) {
      if (!rel.empty() || children.error().code != ErrorCode::NotFound) refuse(children.error().message);
      return;
    }
    bool is_repo = false;
    for (const auto& c : *children) is_repo = is_repo || c.name == "_layers" || c.name == "_manifests";
    if (is_repo && !rel.empty()) out.push_back(rel);
    for (const auto& c : *children) {
      if (c.name[0] == '_') continue;  // a symbolic link here is reported by the reads of its links
      std::string sub = rel.empty() ? c.name : rel + "/" + c.name;
      if (c.symlink) refuse(repoDir(sub) + ": a symbolic link (not followed)");
      else walk(sub);
    }
  };
  walk("");
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Registry2Link> Registry2Layout::layerLinks(const std::string& repo) const {
  return digestLinks(repoDir(repo) + "/_layers/sha256", "_layers/sha256");
}

std::vector<Registry2Link> Registry2Layout::revisionLinks(const std::string& repo) const {
  return digestLinks(repoDir(repo) + "/_manifests/revisions/sha256", "_manifests/revisions/sha256");
}

std::vector<Registry2Link> Registry2Layout::tagLinks(const std::string& repo) const {
  std::vector<Registry2Link> out;
  std::string dir = repoDir(repo) + "/_manifests/tags";
  auto tags = listBeneath(v2_, dir);
  if (!tags) {
    if (tags.error().code != ErrorCode::NotFound) out.push_back({"_manifests/tags", std::nullopt, tags.error().message, 0});
    return out;
  }
  for (const auto& t : *tags)
    out.push_back(t.symlink ? Registry2Link{t.name, std::nullopt, "a symbolic link (not followed)", 0}
                            : readLink(t.name, dir + "/" + t.name + "/current/link", false));
  return out;
}

}  // namespace berth::ops
