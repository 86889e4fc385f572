#include "repo/remote/blob_fetch.h"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>

#include "http/client.h"

namespace berth::repo::remote {
namespace {

constexpr std::size_t kChunk = 256 * 1024;
// Readers that caught up look again after this long, doubling up to the cap:
// short enough to follow a fast upstream, long enough to cost nothing.
constexpr auto kFirstWait = std::chrono::milliseconds(1);
constexpr auto kMaxWait = std::chrono::milliseconds(20);

}  // namespace

BlobFetch::BlobFetch(Deps deps, std::string name, Digest digest)
    : deps_(std::move(deps)), first_name_(std::move(name)), digest_(std::move(digest)) {}

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
  if (auto st = deps_.meta->linkBlob(deps_.repo_key, name, digest_, size_.value_or(0)); !st)
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
  std::lock_guard lock(mu_);
  state_ = State::Failed;
  error_ = std::move(e);
}

void BlobFetch::run(http::Suspender& self, const Open& open) {
  auto res = open(self);
  if (!res) return failWith(res.error());
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
  auto st = stream(**res, *session);
  if (st) st = complete(*session);
  if (!st) {
    if (!(*session)->ended()) (void)deps_.uploads->cancel(*session);
    spdlog::warn("remote {}: fetching {} from {} failed: {}", deps_.repo_key, digest_.str(), deps_.upstream_host,
                 st.error().message);
    failWith(st.error());
  }
}

Status BlobFetch::stream(http::ClientResponse& res, const UploadSessionPtr& session) {
  std::unique_ptr<char[]> buf(new char[kChunk]);
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (cancelled_) return fail(ErrorCode::Unavailable, "the server is shutting down");
    }
    auto n = res.read(buf.get(), kChunk);
    if (!n) return tl::unexpected(n.error());
    if (*n == 0) break;
    if (auto st = session->append(buf.get(), *n); !st) return st;
    std::lock_guard lock(mu_);
    written_ += *n;
    if (size_ && written_ > *size_)
      return fail(ErrorCode::Unavailable, "upstream " + deps_.upstream_host + " sent more than it announced");
  }
  std::lock_guard lock(mu_);
  if (size_ && written_ != *size_)
    return fail(ErrorCode::Unavailable, "upstream " + deps_.upstream_host + " ended the blob early");
  return {};
}

Status BlobFetch::complete(const UploadSessionPtr& session) {
  // Verified is enough for the readers: the client's last byte need not wait
  // for the cache to be durable (the fsync, the rename, the link), only the
  // link does.
  auto committed = deps_.uploads->commit(session, digest_, [this] {
    std::lock_guard lock(mu_);
    verified_ = true;
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
  for (const auto& n : names)
    if (auto st = deps_.meta->linkBlob(deps_.repo_key, n, digest_, *committed); !st)
      spdlog::warn("remote {}: linking {} for {} failed: {}", deps_.repo_key, digest_.str(), n, st.error().message);
  spdlog::info("remote {}: cached {} ({} bytes) from {}", deps_.repo_key, digest_.str(), *committed,
               deps_.upstream_host);
  return {};
}

Status BlobFetch::waitStarted(const Call& call) {
  auto wait = kFirstWait;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (state_ == State::Failed) return tl::unexpected(*error_);
      if (state_ == State::Done || (state_ == State::Streaming && size_)) return {};
    }
    pauseCall(call, wait);
    wait = std::min(wait * 2, kMaxWait);
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
  auto wait = kFirstWait;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      // Verified bytes are right whether or not caching them works out.
      if (state_ == State::Done || verified_) return *size_;
      if (state_ == State::Failed) return tl::unexpected(*error_);
      // The last byte waits for the digest check.
      uint64_t ready = size_ && written_ >= *size_ ? (*size_ > 0 ? *size_ - 1 : 0) : written_;
      if (ready > pos) return ready;
    }
    pauseCall(call, wait);
    wait = std::min(wait * 2, kMaxWait);
  }
}

}  // namespace berth::repo::remote
