// RemoteRepository (remote_repository.h): blobs -- served from the cache,
// linked when stored for another image and the upstream confirms it, else
// fetched once for everyone who asks meanwhile (BlobFetch).
#include <spdlog/spdlog.h>

#include "berth/core/media_types.h"
#include "http/client.h"
#include "repo/manifest_parser.h"
#include "repo/remote/foreign_layers.h"
#include "repo/remote/remote_repository.h"
#include "observe/metrics.h"

namespace berth::repo::remote {
namespace {

tl::unexpected<Error> blobUnknown(const Digest& d) {
  return fail(ErrorCode::BlobUnknown, "blob unknown to registry", d.str());
}

}  // namespace

Result<storage::BlobInfo> RemoteRepository::statBlob(const Call& call, const std::string& name, const Digest& d) {
  auto linked = meta_->linkedBlobSize(key(), name, d);
  if (!linked) return tl::unexpected(linked.error());
  if (*linked) return storage::BlobInfo{**linked};
  if (settings_.remote.offline) return blobUnknown(d);
  {
    std::lock_guard lock(fetch_mu_);
    if (auto it = fetches_.find(d.str()); it != fetches_.end())
      if (auto size = it->second->size()) return storage::BlobInfo{*size};
  }
  if (auto f = foreignLayer(name, d); f && f->size > 0) return storage::BlobInfo{f->size};
  auto res = upstream_.request("HEAD", name, "blobs/" + d.str(), {}, call.suspender);
  if (!res) return tl::unexpected(res.error());
  if ((*res)->status != 200) return tl::unexpected(upstream_.errorFor(**res, ErrorCode::BlobUnknown, "blob " + d.str()));
  if (!(*res)->content_length)
    return fail(ErrorCode::Unavailable, "upstream " + upstream_.host() + " did not say the size of blob " + d.str());
  return storage::BlobInfo{*(*res)->content_length};
}

Result<bool> RemoteRepository::linkIfUpstreamHas(const Call& call, const std::string& name, const Digest& d) {
  if (!blobs_->stat(d)) return false;
  auto res = upstream_.request("HEAD", name, "blobs/" + d.str(), {}, call.suspender);
  if (!res || (*res)->status != 200) return false;
  // Not held across the upstream's answer above; from here to the committed
  // link the sweep cannot take the file (docs/design.md, "Garbage collection").
  auto fence = blobs_->fence().writer();
  auto info = blobs_->stat(d);
  if (!info) return false;
  // A 200 alone is not "the upstream has this blob": a catch-all web page
  // answers 200 to anything, and the blob may be another repository's. The
  // answer must announce this blob's size, and its digest when it names one.
  const auto& head = **res;
  std::string named = head.header("Docker-Content-Digest");
  if (head.content_length != info->size || (!named.empty() && named != d.str())) return false;
  if (auto st = meta_->linkBlob(key(), name, d, info->size); !st) return tl::unexpected(st.error());
  return true;
}

Result<storage::BlobReaderPtr> RemoteRepository::openBlob(const Call& call, const std::string& name,
                                                          const Digest& d) {
  auto linked = meta_->linkedBlobSize(key(), name, d);
  if (!linked) return tl::unexpected(linked.error());
  observe::metrics().cacheLookup(observe::CacheKind::Blob, bool(*linked));
  if (*linked) {
    // A cached blob that no manifest names goes after the grace period (its
    // link with it): one collected since the look above is fetched again.
    auto cached = blobs_->open(d);
    if (cached || cached.error().code != ErrorCode::BlobUnknown) return cached;
  }
  if (settings_.remote.offline) return blobUnknown(d);
  if (auto have = linkIfUpstreamHas(call, name, d); have && *have) return blobs_->open(d);
  if (auto st = mayJoin(call, name, d); !st) return tl::unexpected(st.error());
  if (auto have = linkIfUpstreamHas(call, name, d); have && *have) return blobs_->open(d);  // stored meanwhile
  bool linked_meanwhile = false;
  auto fetch = joinOrStartFetch(name, d, &linked_meanwhile);
  if (linked_meanwhile) return blobs_->open(d);
  if (!fetch) return fail(ErrorCode::Unavailable, "the server is shutting down");
  if (auto st = fetch->waitStarted(call); !st) return tl::unexpected(st.error());
  return fetch->reader(call);
}

Status RemoteRepository::mayJoin(const Call& call, const std::string& name, const Digest& d) {
  BlobFetchPtr running;
  {
    std::lock_guard lock(fetch_mu_);
    auto it = fetches_.find(d.str());
    if (it == fetches_.end() || it->second->hasName(name)) return {};
    running = it->second;
  }
  if (foreignLayer(name, d)) return {};  // this image's manifest names the layer's URL
  if (foreignLayer(running->firstName(), d)) {
    // That fetch reads a URL another image's manifest chose: never joined
    // from here. Once it ends, this image fetches from its upstream.
    auto wait = std::chrono::milliseconds(1);
    for (;;) {
      {
        std::lock_guard lock(fetch_mu_);
        auto it = fetches_.find(d.str());
        if (it == fetches_.end() || it->second != running) break;
      }
      pauseCall(call, wait);
      wait = std::min(wait * 2, std::chrono::milliseconds(20));
    }
    return {};
  }
  auto res = upstream_.request("HEAD", name, "blobs/" + d.str(), {}, call.suspender);
  if (!res) return tl::unexpected(res.error());
  if ((*res)->status != 200) return tl::unexpected(upstream_.errorFor(**res, ErrorCode::BlobUnknown, "blob " + d.str()));
  return {};
}

BlobFetchPtr RemoteRepository::joinFetch(const std::string& name, const Digest& d) {
  BlobFetchPtr running;
  {
    std::lock_guard lock(fetch_mu_);
    if (auto it = fetches_.find(d.str()); it != fetches_.end()) running = it->second;
  }
  // Outside fetch_mu_: a fetch that has completed links the name at once,
  // which writes to SQLite.
  if (running) running->addName(name);
  return running;
}

BlobFetchPtr RemoteRepository::joinOrStartFetch(const std::string& name, const Digest& d, bool* linked) {
  if (stopping_) return nullptr;
  if (auto running = joinFetch(name, d)) return running;
  // A fetch leaves fetches_ only once it linked its blob: one that ended
  // since the caller looked for the link (its client served, the cache just
  // completed) shows here, and is not fetched again.
  if (linked)
    if (auto known = meta_->linkedBlobSize(key(), name, d); known && *known) {
      *linked = true;
      return nullptr;
    }
  BlobFetch::Deps deps{key(), upstream_.host(), blobs_, meta_, uploads_,
                       [client = client_](std::function<void()> task) { client->post(std::move(task)); },
                       settings_.remote.max_blob_bytes};
  std::optional<uint64_t> expected = sizes_.find(name, d);
  if (auto f = foreignLayer(name, d); f && f->size > 0) expected = f->size;
  auto fetch = std::make_shared<BlobFetch>(std::move(deps), name, d, expected);
  BlobFetchPtr running;
  bool started = false;
  {
    // The lookups above ran without fetch_mu_ (SQLite, another lock), so
    // another caller may have started the same fetch meanwhile: join it.
    // The start itself stays under the lock, so that the destructor, which
    // cancels what fetches_ holds under it, cannot miss a fetch starting.
    std::lock_guard lock(fetch_mu_);
    if (stopping_) return nullptr;
    auto [it, inserted] = fetches_.try_emplace(d.str(), fetch);
    if (!inserted) {
      running = it->second;
    } else {
      ++running_;
      started = client_->spawn([this, fetch, name, d](http::Suspender& self) {
        // Forgotten however the coroutine ends: returned, or unwound because
        // the client destroyed it. Else later callers would join a dead
        // fetch and the destructor would wait for it for ever.
        struct Forget {
          RemoteRepository* repo;
          const BlobFetchPtr& fetch;
          ~Forget() { repo->forgetFetch(fetch); }
        } forget{this, fetch};
        fetch->run(self, [&](http::Suspender& s) { return openUpstreamBlob(s, name, d); });
      });
      if (!started) {
        fetches_.erase(it);
        --running_;
      }
    }
  }
  if (running) {
    running->addName(name);
    return running;
  }
  if (!started) fetch->abandon(Error{ErrorCode::Unavailable, "the server cannot start another fetch now; try again", ""});
  return fetch;
}

void RemoteRepository::forgetFetch(const BlobFetchPtr& fetch) {
  {
    std::lock_guard lock(fetch_mu_);
    if (auto it = fetches_.find(fetch->digest().str()); it != fetches_.end() && it->second == fetch) fetches_.erase(it);
  }
  --running_;
}

Result<std::unique_ptr<http::ClientResponse>> RemoteRepository::openUpstreamBlob(http::Suspender& self,
                                                                                  const std::string& name,
                                                                                  const Digest& d) {
  if (auto f = foreignLayer(name, d)) {
    auto res = upstream_.fetchUrl(f->url, &self);
    if (!res) return tl::unexpected(res.error());
    if ((*res)->status != 200)
      return fail(ErrorCode::Unavailable, "the foreign layer " + d.str() + " could not be fetched from its URL",
                  "status " + std::to_string((*res)->status));
    return res;
  }
  auto res = upstream_.request("GET", name, "blobs/" + d.str(), {}, &self);
  if (!res) return tl::unexpected(res.error());
  if ((*res)->status != 200) return tl::unexpected(upstream_.errorFor(**res, ErrorCode::BlobUnknown, "blob " + d.str()));
  return res;
}

void RemoteRepository::noteForeignLayers(const std::string& name, const std::string& media_type,
                                         const std::string& bytes, bool prefetch) {
  const auto& fl = settings_.remote.foreign_layers;
  // Called on every cached manifest served: most have no foreign layer, and
  // need not be parsed again to know it.
  if (!fl.enabled || !media::isImageManifest(media_type) || bytes.find("\"urls\"") == std::string::npos) return;
  auto parsed = parseManifest(media_type, bytes);
  if (!parsed) return;
  for (const auto& f : parsed->foreign) {
    std::string url = firstAllowedUrl(f.urls, fl.include);
    if (url.empty()) continue;  // left to the client, which fetches it from its URL
    {
      std::lock_guard lock(foreign_mu_);
      foreign_[name + "@" + f.digest.str()] = Foreign{url, f.size};
    }
    if (prefetch) {
      auto linked = meta_->linkedBlobSize(key(), name, f.digest);
      if (linked && !*linked) joinOrStartFetch(name, f.digest);
    }
  }
}

std::optional<RemoteRepository::Foreign> RemoteRepository::foreignLayer(const std::string& name, const Digest& d) {
  std::lock_guard lock(foreign_mu_);
  if (auto it = foreign_.find(name + "@" + d.str()); it != foreign_.end()) return it->second;
  return std::nullopt;
}

}  // namespace berth::repo::remote
