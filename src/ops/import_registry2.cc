#include "ops/import_registry2.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "berth/core/reference.h"
#include "berth/core/sha256.h"
#include "berth/repo/repository.h"
#include "repo/manifest_parser.h"
#include "storage/file_util.h"
#include "storage/root_lock.h"
#include "storage/sweep_lock.h"

namespace berth::ops {
namespace {

constexpr std::size_t kChunk = 1 << 20;

std::string errorText(const Error& e) {
  std::string out = e.message;
  if (!e.detail.empty()) out += ": " + e.detail;
  return out;
}

Status writeAll(int fd, const char* data, std::size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return tl::unexpected(errnoError(errno, "write", path));
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return {};
}

}  // namespace

Registry2Importer::Registry2Importer(const Registry2Layout& source, const storage::Paths& store,
                                     storage::BlobStore& blobs, storage::MetadataStore& meta, std::string repo_key)
    : source_(source), store_(store), blobs_(blobs), meta_(meta), repo_key_(std::move(repo_key)) {}

ImportReport Registry2Importer::run(const Progress& progress) {
  // Both for the whole run: a blob is installed or found long before the
  // manifest that references it is recorded (docs/design.md, "Garbage collection").
  auto root = storage::RootLock::acquire(store_.lockFile(), storage::RootLock::Mode::Shared);
  if (!root) throw std::runtime_error(root.error().message + " (" + store_.root() + ")");
  auto sweep = storage::SweepLock::holdShared(storage::SweepLock::fileIn(store_.root()));
  if (!sweep) throw std::runtime_error(sweep.error().message);
  progress_ = progress;
  std::vector<std::string> refused;
  auto names = source_.repositories(&refused);
  for (auto& line : refused) {
    ++report_.images.skipped;
    skip(line + "; nothing below it imported");
  }
  report_.image_total = names.size();
  for (const auto& name : names) {
    ++report_.image_index;
    report_.current = name;
    tick();
    importImage(name);
  }
  report_.current.clear();
  return report_;
}

void Registry2Importer::importImage(const std::string& name) {
  if (!isValidImageName(name)) {
    ++report_.images.skipped;
    skip("image '" + name + "': not a valid image name (distribution's name grammar); nothing of it imported");
    return;
  }
  auto known = meta_.imageExists(repo_key_, name);
  ++(known && *known ? report_.images.present : report_.images.imported);

  for (const auto& link : source_.layerLinks(name)) {
    if (!link.digest) {
      ++report_.links.skipped;
      skip(name + ": layer link " + link.entry + ": " + link.problem);
    } else {
      ensureLink(name, *link.digest, "layer");
    }
    tick();
  }

  std::vector<Pending> pending;
  std::map<std::string, storage::ManifestWrite> writes;
  std::set<std::string> revisions;
  for (const auto& link : source_.revisionLinks(name)) {
    if (link.digest) revisions.insert(link.digest->str());
    if (auto p = readRevision(name, link)) {
      writes[p->digest.str()] = p->write;
      pending.push_back(std::move(*p));
    }
    tick();
  }
  auto recorded = recordManifests(name, std::move(pending));
  importTags(name, writes, revisions, recorded);
}

bool Registry2Importer::ensureLink(const std::string& name, const Digest& d, const std::string& role) {
  std::string key = name + "@" + d.hex();
  if (auto done = linked_.find(key); done != linked_.end()) return done->second;
  const BlobState& s = blob(d);
  if (s.kind != BlobKind::Ready) {
    ++report_.links.skipped;
    skip(name + ": " + role + " " + d.str() + " not linked: the blob is " + describe(s));
    linked_[key] = false;  // reported once
    return false;
  }
  auto have = meta_.linkedBlobSize(repo_key_, name, d);
  if (have && *have) {
    ++report_.links.present;
  } else if (auto st = have ? meta_.linkBlob(repo_key_, name, d, s.size) : Status(tl::unexpected(have.error())); st) {
    ++report_.links.imported;
  } else {
    ++report_.links.skipped;
    skip(name + ": " + role + " " + d.str() + " not linked: " + errorText(st.error()));
    return false;
  }
  linked_[key] = true;
  return true;
}

std::optional<Registry2Importer::Pending> Registry2Importer::readRevision(const std::string& name,
                                                                         const Registry2Link& link) {
  auto skipped = [&](const std::string& what, const std::string& why) {
    ++report_.manifests.skipped;
    skip(name + ": manifest " + what + ": " + why);
    return std::nullopt;
  };
  if (!link.digest) return skipped(link.entry, link.problem);
  const Digest& d = *link.digest;
  const BlobState& s = blob(d);
  if (s.kind != BlobKind::Ready) return skipped(d.str(), "its blob is " + describe(s));
  if (s.size > repo::kMaxManifestBytes) return skipped(d.str(), "larger than a manifest may be (4 MiB)");
  auto bytes = blobs_.readBytes(d, repo::kMaxManifestBytes);
  if (!bytes) return skipped(d.str(), errorText(bytes.error()));
  // Content-Type is gone with the push: the media type comes from the
  // manifest's own mediaType field, or its shape (OCI allows omitting it).
  auto parsed = repo::parseManifest("", *bytes);
  if (!parsed) return skipped(d.str(), "unreadable: " + errorText(parsed.error()));
  Pending p{d, {}};
  p.write.record = {repo_key_, name, d, parsed->media_type, bytes->size(), parsed->subject,
                    parsed->artifact_type, parsed->annotations, link.mtime};
  p.write.blobs = parsed->blobs;
  p.write.manifests = parsed->manifests;
  p.write.require_references = true;
  return p;
}

std::set<std::string> Registry2Importer::recordManifests(const std::string& name, std::vector<Pending> pending) {
  std::set<std::string> recorded, waiting;
  std::vector<Pending> todo;
  for (auto& p : pending) {
    auto rec = meta_.manifest(repo_key_, name, p.digest);
    if (!rec) {
      ++report_.manifests.skipped;
      skip(name + ": manifest " + p.digest.str() + ": " + errorText(rec.error()));
    } else if (*rec) {
      ++report_.manifests.present;
      recorded.insert(p.digest.str());
    } else {
      waiting.insert(p.digest.str());
      todo.push_back(std::move(p));
    }
  }
  auto skipped = [&](const Pending& p, const std::string& why) {
    ++report_.manifests.skipped;
    skip(name + ": manifest " + p.digest.str() + ": " + why);
    waiting.erase(p.digest.str());
  };
  // An index goes in after its children: passes until nothing moves.
  for (bool moved = true; moved && !todo.empty();) {
    moved = false;
    std::vector<Pending> later;
    for (auto& p : todo) {
      std::string absent;
      bool wait = false;
      for (const auto& c : p.write.manifests) {
        if (recorded.count(c.str())) continue;
        if (waiting.count(c.str())) wait = true;
        else absent = c.str();
      }
      moved = moved || !wait || !absent.empty();
      if (!absent.empty()) {
        skipped(p, "references manifest " + absent + ", which is not in the repository or was skipped");
        continue;
      }
      if (wait) {
        later.push_back(std::move(p));
        continue;
      }
      bool blobs_ok = true;
      for (const auto& b : p.write.blobs) blobs_ok = ensureLink(name, b, "blob of manifest " + p.digest.str()) && blobs_ok;
      if (!blobs_ok) {
        skipped(p, "a blob it references could not be imported");
        continue;
      }
      auto out = meta_.putManifest(p.write);
      if (!out) {
        skipped(p, errorText(out.error()));
      } else if (!out->missing.empty()) {
        skipped(p, "references " + out->missing + ", which the image does not hold");
      } else {
        ++report_.manifests.imported;
        recorded.insert(p.digest.str());
        waiting.erase(p.digest.str());
      }
      tick();
    }
    todo = std::move(later);
  }
  for (const auto& p : todo) skipped(p, "its index references form a cycle");
  return recorded;
}

void Registry2Importer::importTags(const std::string& name, const std::map<std::string, storage::ManifestWrite>& writes,
                                   const std::set<std::string>& revisions, const std::set<std::string>& recorded) {
  for (const auto& link : source_.tagLinks(name)) {
    auto skipped = [&](const std::string& why) {
      ++report_.tags.skipped;
      skip(name + ":" + link.entry + ": " + why);
    };
    if (!link.digest) {
      skipped(link.problem);
      continue;
    }
    if (!isValidTag(link.entry)) {
      skipped("not a valid tag");
      continue;
    }
    std::string d = link.digest->str();
    auto w = writes.find(d);
    if (w == writes.end() || !recorded.count(d)) {
      skipped(revisions.count(d) ? "its manifest " + d + " was skipped"
                                 : "dangling: names " + d + ", which is not a revision of the repository");
      continue;
    }
    auto current = meta_.resolveTag(repo_key_, name, link.entry);
    if (!current) {
      skipped(errorText(current.error()));
    } else if (*current && **current == *link.digest) {
      ++report_.tags.present;
    } else if (*current) {
      skipped("Berth's tag names " + (*current)->str() + " (pushed there since?): kept, registry:2's " + d +
              " not imported");
    } else {
      storage::ManifestWrite write = w->second;
      // Keep the record Berth has (its time); only the tag is new.
      if (auto rec = meta_.manifest(repo_key_, name, *link.digest); rec && *rec) write.record = **rec;
      write.tag = link.entry;
      auto out = meta_.putManifest(write);
      if (!out) skipped(errorText(out.error()));
      else if (!out->missing.empty()) skipped("its manifest references " + out->missing + ", gone meanwhile");
      else ++report_.tags.imported;
    }
  }
}

const Registry2Importer::BlobState& Registry2Importer::blob(const Digest& d) {
  auto it = blob_states_.find(d.hex());
  if (it != blob_states_.end()) return it->second;
  BlobState s = installBlob(d);
  if (s.kind != BlobKind::Ready) {
    ++report_.blobs.skipped;
    skip("blob " + d.str() + ": " + describe(s));
  }
  tick();
  return blob_states_.emplace(d.hex(), std::move(s)).first->second;
}

Registry2Importer::BlobState Registry2Importer::installBlob(const Digest& d) {
  if (auto have = blobs_.stat(d)) {
    ++report_.blobs.present;
    return {BlobKind::Ready, have->size, ""};
  } else if (have.error().code != ErrorCode::BlobUnknown) {
    return {BlobKind::Failed, 0, errorText(have.error())};
  }
  auto src = source_.openBlobData(d);
  if (!src)
    return src.error().code == ErrorCode::NotFound ? BlobState{BlobKind::Missing, 0, ""}
                                                   : BlobState{BlobKind::Failed, 0, src.error().message};
  std::string tmp = store_.tmpDir() + "/import-" + storage::randomHex16();
  auto got = stage(*src, tmp);
  if (!got) {
    ::unlink(tmp.c_str());
    return {BlobKind::Failed, 0, errorText(got.error())};
  }
  if (got->digest.hex() != d.hex()) {
    ::unlink(tmp.c_str());
    return {BlobKind::Corrupt, 0, "its data hashes to " + got->digest.str()};
  }
  if (auto s = blobs_.install(tmp, d); !s) {
    ::unlink(tmp.c_str());
    return {BlobKind::Failed, 0, errorText(s.error())};
  }
  ++report_.blobs.imported;
  ++(got->linked ? report_.hard_linked : report_.copied);
  report_.bytes += got->size;
  return {BlobKind::Ready, got->size, ""};
}

Result<Registry2Importer::Staged> Registry2Importer::stage(const SourceFile& src, const std::string& tmp) {
  // A hard link shares the source's inode: no data is written, and neither
  // side ever writes a blob file in place, so the source is left as it was.
  // It links the descriptor that was checked, not the path again (the
  // /proc form works without CAP_DAC_READ_SEARCH, which AT_EMPTY_PATH needs),
  // so hashing the descriptor verifies exactly what is installed. A file
  // with other names is copied: one of them could be written in place.
  Staged out;
  if (src.st.st_nlink == 1) {
    std::string self = "/proc/self/fd/" + std::to_string(src.fd.get());
    out.linked = ::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, tmp.c_str(), AT_SYMLINK_FOLLOW) == 0;
  }
  Fd copy;
  if (!out.linked) {
    // Another filesystem (EXDEV), linking refused (protected_hardlinks), no /proc: copy.
    copy = Fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (copy.get() < 0) return tl::unexpected(errnoError(errno, "create", tmp));
  }
  ::posix_fadvise(src.fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  std::vector<char> buf(kChunk);
  Sha256 hash;
  while (true) {
    ssize_t n = ::pread(src.fd.get(), buf.data(), buf.size(), static_cast<off_t>(out.size));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return tl::unexpected(Error{ErrorCode::Unknown, "read: " + std::string(std::strerror(errno)), "", true});
    if (n == 0) break;
    hash.update(buf.data(), static_cast<std::size_t>(n));
    if (copy.get() >= 0)
      if (auto st = writeAll(copy.get(), buf.data(), static_cast<std::size_t>(n), tmp); !st)
        return tl::unexpected(st.error());
    out.size += static_cast<uint64_t>(n);
  }
  if (copy.get() >= 0 && ::close(copy.release()) != 0) return tl::unexpected(errnoError(errno, "close", tmp));
  // What is installed is what was hashed: a regular file of that size (and,
  // linked, the very inode that was read).
  struct stat st {};
  if (::lstat(tmp.c_str(), &st) != 0) return tl::unexpected(errnoError(errno, "lstat", tmp));
  bool same = S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) == out.size &&
              (!out.linked || (st.st_ino == src.st.st_ino && st.st_dev == src.st.st_dev));
  if (!same) return fail(ErrorCode::Unknown, "the staged file is not what was read (changed meanwhile?)", "");
  out.digest = hash.finish();
  return out;
}

std::string Registry2Importer::describe(const BlobState& s) {
  switch (s.kind) {
    case BlobKind::Ready: return "imported";
    case BlobKind::Missing: return "missing (a link names it, registry:2 has no data for it)";
    case BlobKind::Corrupt: return "corrupt (" + s.why + ")";
    case BlobKind::Failed: return "unreadable (" + s.why + ")";
  }
  return "";
}

}  // namespace berth::ops
