#include "ops/registry2_layout.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>

namespace berth::ops {
namespace fs = std::filesystem;
namespace {

bool isDir(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Names of the subdirectories of dir (symbolic links not followed), sorted.
std::vector<std::string> subdirs(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec) && !it->is_symlink(ec)) out.push_back(it->path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// A link file is a few dozen bytes; anything longer is not one.
constexpr std::size_t kMaxLinkBytes = 256;

Registry2Link readLink(const std::string& entry, const std::string& path, bool entry_is_hex) {
  Registry2Link link{entry, std::nullopt, "", 0};
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    link.problem = "no link file";
    return link;
  }
  link.mtime = st.st_mtime;
  std::ifstream in(path, std::ios::binary);
  std::string text(kMaxLinkBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) {
    link.problem = "unreadable link file";
    return link;
  }
  text.resize(static_cast<std::size_t>(in.gcount()));
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

std::vector<Registry2Link> digestLinks(const std::string& dir) {
  std::vector<Registry2Link> out;
  for (const auto& hex : subdirs(dir)) out.push_back(readLink(hex, dir + "/" + hex + "/link", true));
  return out;
}

}  // namespace

Result<Registry2Layout> Registry2Layout::open(const std::string& root) {
  for (std::string v2 : {root + "/docker/registry/v2", root})
    if (isDir(v2 + "/blobs") || isDir(v2 + "/repositories")) return Registry2Layout(v2);
  return fail(ErrorCode::Unknown,
              "not a registry:2 filesystem storage (neither docker/registry/v2 nor blobs/ and repositories/ in it)",
              root);
}

std::string Registry2Layout::blobData(const Digest& d) const {
  return v2_ + "/blobs/sha256/" + d.hex().substr(0, 2) + "/" + d.hex() + "/data";
}

std::vector<std::string> Registry2Layout::repositories() const {
  std::vector<std::string> out;
  std::function<void(const std::string&, const std::string&)> walk = [&](const std::string& dir,
                                                                         const std::string& rel) {
    auto children = subdirs(dir);
    bool is_repo = std::binary_search(children.begin(), children.end(), "_layers") ||
                   std::binary_search(children.begin(), children.end(), "_manifests");
    if (is_repo && !rel.empty()) out.push_back(rel);
    for (const auto& c : children)
      if (c.empty() || c[0] != '_') walk(dir + "/" + c, rel.empty() ? c : rel + "/" + c);
  };
  walk(v2_ + "/repositories", "");
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Registry2Link> Registry2Layout::layerLinks(const std::string& repo) const {
  return digestLinks(repoDir(repo) + "/_layers/sha256");
}

std::vector<Registry2Link> Registry2Layout::revisionLinks(const std::string& repo) const {
  return digestLinks(repoDir(repo) + "/_manifests/revisions/sha256");
}

std::vector<Registry2Link> Registry2Layout::tagLinks(const std::string& repo) const {
  std::vector<Registry2Link> out;
  std::string dir = repoDir(repo) + "/_manifests/tags";
  for (const auto& tag : subdirs(dir)) out.push_back(readLink(tag, dir + "/" + tag + "/current/link", false));
  return out;
}

}  // namespace berth::ops
