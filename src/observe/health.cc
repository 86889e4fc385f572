#include "observe/health.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace berth::observe {
namespace {

std::string mib(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

Health::Health(storage::Paths paths, MetadataPing metadata, uint64_t min_free_bytes)
    : paths_(std::move(paths)), metadata_(std::move(metadata)), min_free_bytes_(min_free_bytes) {}

// A new file in <root>/tmp (where every write begins, on the filesystem of the
// blobs and uploads), written and removed; and the directories that commits
// and uploads write into must still be writable. A read-only remount, a full
// inode table or a directory taken away all show here.
ReadinessCheck Health::checkStorage(std::string& detail) const {
  ReadinessCheck c{"storage", true, {}};
  std::string probe = paths_.tmpDir() + "/.ready-probe-XXXXXX";
  int fd = ::mkostemp(probe.data(), O_CLOEXEC);
  if (fd < 0) {
    detail = "cannot create a file in " + paths_.tmpDir() + ": " + std::strerror(errno);
    return {"storage", false, "the storage root is not writable"};
  }
  bool wrote = ::write(fd, "r", 1) == 1;
  int write_errno = errno;
  ::close(fd);
  ::unlink(probe.c_str());
  if (!wrote) {
    detail = "cannot write to " + probe + ": " + std::strerror(write_errno);
    return {"storage", false, "the storage root is not writable"};
  }
  for (const std::string& dir : {paths_.blobsDir(), paths_.uploadsDir()}) {
    if (::faccessat(AT_FDCWD, dir.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
      detail = dir + " is not writable: " + std::strerror(errno);
      return {"storage", false, "the storage root is not writable"};
    }
  }
  return c;
}

ReadinessCheck Health::checkMetadata(std::string& detail) const {
  if (auto st = metadata_(); !st) {
    detail = "metadata database: " + st.error().message;
    return {"metadata", false, "the metadata database does not answer"};
  }
  return {"metadata", true, {}};
}

ReadinessCheck Health::checkDisk(std::string& detail) const {
  if (min_free_bytes_ == 0) return {"disk", true, {}};
  struct statvfs vfs {};
  if (::statvfs(paths_.root().c_str(), &vfs) != 0) {
    detail = "statvfs " + paths_.root() + ": " + std::strerror(errno);
    return {"disk", false, "free disk space unknown"};
  }
  // f_bavail: what an unprivileged writer may use (root's reserve left out).
  uint64_t free_bytes = uint64_t(vfs.f_bavail) * vfs.f_frsize;
  if (free_bytes < min_free_bytes_) {
    detail = "free space on " + paths_.root() + " is " + mib(free_bytes) + ", below storage.ready_min_free_bytes (" +
             mib(min_free_bytes_) + ")";
    return {"disk", false, "free disk space is below the configured floor"};
  }
  return {"disk", true, {}};
}

std::vector<ReadinessCheck> Health::readiness() {
  std::vector<std::string> details(3);
  std::vector<ReadinessCheck> checks;
  checks.push_back(checkStorage(details[0]));
  checks.push_back(checkMetadata(details[1]));
  checks.push_back(checkDisk(details[2]));
  if (draining_)
    checks.push_back({"shutdown", false, "shutting down"});
  else
    checks.push_back({"shutdown", true, {}});
  report(checks, details);
  return checks;
}

bool Health::allOk(const std::vector<ReadinessCheck>& checks) {
  for (const auto& c : checks)
    if (!c.ok) return false;
  return true;
}

// Probes come every few seconds: log a change of state (which checks fail),
// not every probe. Shutting down is logged by main already.
void Health::report(const std::vector<ReadinessCheck>& checks, const std::vector<std::string>& details) {
  std::string failing, text;
  for (std::size_t i = 0; i < details.size(); ++i) {
    if (checks[i].ok) continue;
    failing += checks[i].name + " ";
    text += (text.empty() ? "" : "; ") + details[i];
  }
  std::lock_guard lock(report_mu_);
  if (failing == last_reported_) return;
  if (!failing.empty())
    spdlog::warn("not ready: {}", text);
  else
    spdlog::info("ready again: the storage, metadata and disk checks pass");
  last_reported_ = failing;
}

}  // namespace berth::observe
