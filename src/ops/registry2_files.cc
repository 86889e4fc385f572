#include "ops/registry2_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace berth::ops {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
// O_NONBLOCK: should the entry turn into a FIFO between the look and the
// open, the open returns instead of waiting for a writer.
constexpr int kFileFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;

std::string kindOf(mode_t m) {
  if (S_ISLNK(m)) return "a symbolic link (not followed)";
  if (S_ISDIR(m)) return "a directory, not a file";
  if (S_ISFIFO(m)) return "not a regular file (a FIFO): refused";
  if (S_ISSOCK(m)) return "not a regular file (a socket): refused";
  if (S_ISCHR(m) || S_ISBLK(m)) return "not a regular file (a device): refused";
  return "not a regular file: refused";
}

Error problem(const std::string& rel, int err) {
  if (err == ENOENT) return Error{ErrorCode::NotFound, rel + ": does not exist", "", true};
  return Error{ErrorCode::Unknown, rel + ": " + std::strerror(err), "", true};
}

// Why name (in dir) could not be opened as a directory, or as a file.
Error whyNot(int dir, const std::string& name, const std::string& rel, int err) {
  struct stat st {};
  if (err != ENOENT && ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
    return Error{ErrorCode::Unknown, rel + ": " + kindOf(st.st_mode), "", true};
  return problem(rel, err);
}

Result<std::vector<std::string>> components(const std::string& rel) {
  std::vector<std::string> out;
  for (std::size_t at = 0; at <= rel.size();) {
    std::size_t slash = std::min(rel.find('/', at), rel.size());
    std::string c = rel.substr(at, slash - at);
    if (c == "." || c == "..") return fail(ErrorCode::Unknown, rel + ": a relative component", "");
    if (!c.empty()) out.push_back(std::move(c));
    at = slash + 1;
  }
  return out;
}

// base, then the first n components below it, each a real directory.
Result<Fd> openDirs(const std::string& base, const std::vector<std::string>& comps, std::size_t n) {
  Fd dir(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return tl::unexpected(problem(base, errno));
  std::string rel;
  for (std::size_t i = 0; i < n; ++i) {
    rel += (rel.empty() ? "" : "/") + comps[i];
    int fd = ::openat(dir.get(), comps[i].c_str(), kDirFlags);
    if (fd < 0) return tl::unexpected(whyNot(dir.get(), comps[i], rel, errno));
    dir = Fd(fd);
  }
  return dir;
}

}  // namespace

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Result<SourceFile> openFileBeneath(const std::string& base, const std::string& rel) {
  auto comps = components(rel);
  if (!comps) return tl::unexpected(comps.error());
  if (comps->empty()) return fail(ErrorCode::Unknown, "no file named", base);
  auto dir = openDirs(base, *comps, comps->size() - 1);
  if (!dir) return tl::unexpected(dir.error());
  const std::string& name = comps->back();
  // A look before the open, so that a FIFO or a device is never opened at all.
  struct stat pre {};
  if (::fstatat(dir->get(), name.c_str(), &pre, AT_SYMLINK_NOFOLLOW) != 0) return tl::unexpected(problem(rel, errno));
  if (!S_ISREG(pre.st_mode)) return fail(ErrorCode::Unknown, rel + ": " + kindOf(pre.st_mode), "");
  SourceFile f;
  f.fd = Fd(::openat(dir->get(), name.c_str(), kFileFlags));
  if (f.fd.get() < 0) return tl::unexpected(whyNot(dir->get(), name, rel, errno));
  // The look above was of a name; this one is of what we hold.
  if (::fstat(f.fd.get(), &f.st) != 0) return tl::unexpected(problem(rel, errno));
  if (!S_ISREG(f.st.st_mode)) return fail(ErrorCode::Unknown, rel + ": " + kindOf(f.st.st_mode), "");
  return f;
}

Result<std::string> readCapped(const SourceFile& f, std::size_t max_bytes) {
  std::string out(max_bytes + 1, '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(f.fd.get(), out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return tl::unexpected(Error{ErrorCode::Unknown, std::strerror(errno), "", true});
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

Result<std::vector<DirEntry>> listBeneath(const std::string& base, const std::string& rel) {
  auto comps = components(rel);
  if (!comps) return tl::unexpected(comps.error());
  auto dir = openDirs(base, *comps, comps->size());
  if (!dir) return tl::unexpected(dir.error());
  DIR* d = ::fdopendir(dir->get());
  if (!d) return tl::unexpected(problem(rel, errno));
  dir->release();  // the DIR owns it now
  std::vector<DirEntry> out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    unsigned char type = e->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st {};
      if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
    }
    if (type == DT_DIR || type == DT_LNK) out.push_back({std::move(name), type == DT_LNK});
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  return out;
}

}  // namespace berth::ops
