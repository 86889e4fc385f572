// An upstream's tags/list answer, read under a bound: a hostile upstream
// must not make one request cost Berth more than a few MiB.
//
// - The body is read up to kMaxTagListBytes; a longer one is refused
//   (UNAVAILABLE), and the remote falls back to its cached tags.
// - It is parsed as a stream of events (nlohmann's SAX interface), never as a
//   document: a DOM of a list of one-character strings takes some 30 bytes per
//   byte of JSON, the page only what it keeps.
// - Only the top-level "tags" array's valid tag strings are kept, at most `n`
//   (what the client asked for): more means another page follows.
//
// Stateless and thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "berth/core/error.h"
#include "berth/repo/call.h"
#include "berth/storage/metadata_store.h"

namespace berth::repo::remote {

class Upstream;

// The API asks for at most 100000 tags a page (listing_handlers.cc); 4 MiB
// holds such a page whole when tags average 38 characters, and real ones
// are far shorter ("v1.2.3", "3.19-alpine"). It is also what a manifest may
// weigh (kMaxManifestBytes). A longer list is refused rather than read: the
// cache answers then.
inline constexpr std::size_t kMaxTagListBytes = 4 * 1024 * 1024;

// {"name": ..., "tags": [...]}: the valid tags, at most n (`more` set when
// there were more, or the upstream's Link header says so; the caller sets
// that). UNAVAILABLE naming `host` when it is not such an object.
Result<storage::Page> parseTagList(std::string_view body, std::size_t n, const std::string& host);

// GET <name>/<suffix> (tags/list?n=...&last=...) upstream, read and parsed
// as above; errors as Upstream::errorFor (NAME_UNKNOWN for a 404) or
// UNAVAILABLE for a list too long or unreadable.
Result<storage::Page> fetchTagList(Upstream& upstream, const Call& call, const std::string& name,
                                   const std::string& suffix, std::size_t n);

}  // namespace berth::repo::remote
