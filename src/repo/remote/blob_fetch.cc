#include "repo/remote/blob_fetch.h"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>

#include "http/client.h"

namespace berth::repo::remote {
namespace {

// The ring the fetch receives into while earlier buffers are hashed: a
// write or a hash is one call per megabyte (256 KiB buffers cost a quarter
// more CPU per GiB, 4 MiB ones 60% more: they leave the caches), and a fetch
// holds at most 4 MiB whatever the blob's size (a small blob, its size).
constexpr std::size_t kBuffers = 4;
constexpr std::size_t kBufferBytes = 1 << 20;
// A buffer goes on (written, shown to readers) once the upstream has nothing
// more at hand and it holds at least this much, or has waited this long for
// more: a fast upstream's bytes go in large writes, a slow one's (a trickle
// of a few KiB/s) still reach the readers promptly.
constexpr std::size_t kMinFill = 256 * 1024;
constexpr auto kMaxFillWait = std::chrono::milliseconds(20);
// Waits end on every change announced; this is only how often a waiter looks
// again regardless.
constexpr auto kRecheck = std::chrono::milliseconds(500);

std::string bytes(uint64_t n) { return std::to_string(n) + " bytes"; }

}  // namespace

BlobFetch::BlobFetch(Deps deps, std::string name, Digest digest, std::optional<uint64_t> expected_size)
    : deps_(std::move(deps)), first_name_(std::move(name)), digest_(std::move(digest)), expected_size_(expected_size) {}

BlobFetch::~BlobFetch() {
  if (read_fd_ >= 0) ::close(read_fd_);
}

void BlobFetch::addName(const std::string& name) {
  std::unique_lock lock(mu_);
  if (name == first_name_ || names_.count(name)) return;
  if (state_ != State::Done) {
    names_.insert(name);
    return;
  }
  lock.unlock();
  linkName(name, size_.value_or(0));
}

void BlobFetch::linkName(const std::string& name, uint64_t size) {
  // The blob was linked for the first name, which a delete may have removed
  // since: only a file seen under the fence is linked (docs/design.md,
  // "Garbage collection"); a missing one is fetched again when next asked for.
  auto fence = deps_.blobs->fence().writer();
  Status st = deps_.blobs->stat(digest_) ? deps_.meta->linkBlob(deps_.repo_key, name, digest_, size)
                                         : fail(ErrorCode::BlobUnknown, "collected since it was fetched");
  if (!st)
    spdlog::warn("remote {}: linking {} for {} failed: {}", deps_.repo_key, digest_.str(), name, st.error().message);
}

bool BlobFetch::hasName(const std::string& name) const {
  std::lock_guard lock(mu_);
  return name == first_name_ || names_.count(name) > 0;
}

void BlobFetch::cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
}

bool BlobFetch::finished() const {
  std::lock_guard lock(mu_);
  return state_ == State::Done || state_ == State::Failed;
}

std::optional<uint64_t> BlobFetch::size() const {
  std::lock_guard lock(mu_);
  return size_;
}

void BlobFetch::failWith(Error e) {
  {
    std::lock_guard lock(mu_);
    state_ = State::Failed;
    error_ = std::move(e);
  }
  progress_.notifyAll();
}

Result<uint64_t> BlobFetch::limitFor(const http::ClientResponse& res) const {
  uint64_t limit = std::min(deps_.max_bytes, expected_size_.value_or(UINT64_MAX));
  if (!res.content_length || *res.content_length <= limit) return res.content_length.value_or(limit);
  if (*res.content_length > deps_.max_bytes)
    return fail(ErrorCode::Unavailable, "blob " + digest_.str() + " is larger (" + bytes(*res.content_length) +
                                            ") than repository " + deps_.repo_key + " fetches (max_blob_bytes: " +
                                            std::to_string(deps_.max_bytes) + ")");
  return fail(ErrorCode::Unavailable, "upstream " + deps_.upstream_host + " announced " + bytes(*res.content_length) +
                                          " for blob " + digest_.str() + ", its manifest says " +
                                          bytes(*expected_size_));
}

void BlobFetch::run(http::Suspender& self, const Open& open) {
  try {
    runOnce(self, open);
  } catch (const std::exception& e) {
    // std::exception only: the unwinding of a destroyed coroutine is not
    // one, and must pass through.
    spdlog::error("remote {}: fetching {} from {} failed: {}", deps_.repo_key, digest_.str(), deps_.upstream_host,
                  e.what());
    failWith(Error{ErrorCode::Unavailable, "the blob could not be fetched from upstream " + deps_.upstream_host, ""});
  }
}

void BlobFetch::runOnce(http::Suspender& self, const Open& open) {
  auto res = open(self);
  if (!res) return failWith(res.error());
  auto limit = limitFor(**res);
  if (!limit) {
    spdlog::warn("remote {}: not fetching {} from {}: {}", deps_.repo_key, digest_.str(), deps_.upstream_host,
                 limit.error().message);
    return failWith(limit.error());
  }
  auto session = deps_.uploads->start(deps_.repo_key, first_name_, "remote-cache", /*resumable=*/false);
  if (!session) return failWith(session.error());
  auto lease = (*session)->acquire();
  if (!lease) return failWith(lease.error());
  int fd = ::open((*session)->path().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    (void)deps_.uploads->cancel(*session);
    return failWith(errnoError(errno, "open cache file", (*session)->path()));
  }
  {
    std::lock_guard lock(mu_);
    read_fd_ = fd;
    size_ = (*res)->content_length;
    state_ = State::Streaming;
  }
  progress_.notifyAll();
  auto st = stream(self, **res, **session, *limit);
  if (st) st = complete(*session);
  if (!st) {
    if (!(*session)->ended()) (void)deps_.uploads->cancel(*session);
    spdlog::warn("remote {}: fetching {} from {} failed: {}", deps_.repo_key, digest_.str(), deps_.upstream_host,
                 st.error().message);
    failWith(st.error());
  }
}

Status BlobFetch::stream(http::Suspender& self, http::ClientResponse& res, UploadSession& session, uint64_t limit) {
  const Call call{&self, {}};
  const auto buffer_bytes = static_cast<std::size_t>(std::clamp<uint64_t>(limit, 1, kBufferBytes));
  const std::size_t min_fill = std::min(kMinFill, buffer_bytes);
  auto pipe = HashPipe::create(deps_.post, kBuffers, buffer_bytes);
  uint64_t written = 0;
  for (bool end = false; !end;) {
    {
      std::lock_guard lock(mu_);
      if (cancelled_) return fail(ErrorCode::Unavailable, "the server is shutting down");
    }
    char* buf = pipe->next(call);
    std::size_t filled = 0;
    const auto fill_started = std::chrono::steady_clock::now();
    while (filled < buffer_bytes) {
      auto n = res.read(buf + filled, buffer_bytes - filled);
      if (!n) return tl::unexpected(n.error());
      if (*n == 0) {
        end = true;
        break;
      }
      filled += *n;
      bool drained = *n < buffer_bytes - (filled - *n);  // nothing more at hand
      if (drained && (filled >= min_fill || std::chrono::steady_clock::now() - fill_started >= kMaxFillWait)) break;
    }
    if (filled == 0) continue;
    // Checked before a byte of it is kept: an endless body stops here.
    if (filled > limit - written)
      return fail(ErrorCode::Unavailable, "upstream " + deps_.upstream_host + " sent more than the " + bytes(limit) +
                                              " expected of blob " + digest_.str());
    pipe->submit(filled);  // hashed while it is written, and the next buffer received
    if (auto st = session.appendUnhashed(buf, filled); !st) return st;
    written += filled;
    {
      std::lock_guard lock(mu_);
      written_ = written;
    }
    progress_.notifyAll();
  }
  if (size_ && written != *size_)
    return fail(ErrorCode::Unavailable, "upstream " + deps_.upstream_host + " ended the blob early");
  session.setDigest(pipe->finish(call));
  return {};
}

Status BlobFetch::complete(const UploadSessionPtr& session) {
  // Verified is enough for the readers: the client's last byte need not wait
  // for the cache to be durable (the fsync, the rename, the link), only the
  // link does.
  auto committed = deps_.uploads->commit(session, digest_, [this] {
    {
      std::lock_guard lock(mu_);
      verified_ = true;
    }
    progress_.notifyAll();
  });
  if (!committed) {
    if (committed.error().code == ErrorCode::DigestInvalid)
      return fail(ErrorCode::Unavailable,
                  "upstream " + deps_.upstream_host + " sent content that does not match digest " + digest_.str(),
                  committed.error().detail);
    return tl::unexpected(committed.error());
  }
  std::set<std::string> names;
  {
    std::lock_guard lock(mu_);
    size_ = *committed;
    state_ = State::Done;
    names.swap(names_);
  }
  progress_.notifyAll();
  for (const auto& n : names) linkName(n, *committed);
  spdlog::info("remote {}: cached {} ({} bytes) from {}", deps_.repo_key, digest_.str(), *committed,
               deps_.upstream_host);
  return {};
}

Status BlobFetch::waitStarted(const Call& call) {
  for (;;) {
    uint64_t seen = progress_.generation();
    {
      std::lock_guard lock(mu_);
      if (state_ == State::Failed) return tl::unexpected(*error_);
      if (state_ == State::Done || (state_ == State::Streaming && size_)) return {};
    }
    progress_.wait(call, seen, kRecheck);
  }
}

Result<storage::BlobReaderPtr> BlobFetch::reader(const Call& call) {
  std::unique_lock lock(mu_);
  if (state_ == State::Failed) return tl::unexpected(*error_);
  if (state_ == State::Done) {
    lock.unlock();
    return deps_.blobs->open(digest_);
  }
  if (state_ != State::Streaming || !size_)
    return fail(ErrorCode::Unavailable, "the blob is not being fetched");  // callers waitStarted() first
  int fd = ::dup(read_fd_);
  if (fd < 0) return tl::unexpected(errnoError(errno, "dup cache file", digest_.str()));
  uint64_t size = *size_;
  lock.unlock();
  auto self = shared_from_this();
  return std::make_unique<storage::BlobReader>(
      fd, size, [self, call](uint64_t pos) { return self->waitReady(pos, call); });
}

Result<uint64_t> BlobFetch::waitReady(uint64_t pos, const Call& call) {
  for (;;) {
    uint64_t seen = progress_.generation();
    {
      std::lock_guard lock(mu_);
      // Verified bytes are right whether or not caching them works out.
      if (state_ == State::Done || verified_) return *size_;
      if (state_ == State::Failed) return tl::unexpected(*error_);
      // The last byte waits for the digest check.
      uint64_t ready = size_ && written_ >= *size_ ? (*size_ > 0 ? *size_ - 1 : 0) : written_;
      if (ready > pos) return ready;
    }
    progress_.wait(call, seen, kRecheck);
  }
}

}  // namespace berth::repo::remote
