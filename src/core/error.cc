#include "berth/core/error.h"

#include <cstring>

namespace berth {
namespace {

struct ErrorInfo {
  std::string_view name;
  int status;
  std::string_view message;
};

// One table: code -> spec name, status, default message.
ErrorInfo info(ErrorCode code) {
  switch (code) {
    case ErrorCode::BlobUnknown: return {"BLOB_UNKNOWN", 404, "blob unknown to registry"};
    case ErrorCode::BlobUploadInvalid: return {"BLOB_UPLOAD_INVALID", 400, "blob upload invalid"};
    case ErrorCode::BlobUploadUnknown: return {"BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry"};
    case ErrorCode::DigestInvalid: return {"DIGEST_INVALID", 400, "provided digest did not match uploaded content"};
    case ErrorCode::ManifestBlobUnknown: return {"MANIFEST_BLOB_UNKNOWN", 400, "manifest references a manifest or blob unknown to registry"};
    case ErrorCode::ManifestInvalid: return {"MANIFEST_INVALID", 400, "manifest invalid"};
    case ErrorCode::ManifestUnknown: return {"MANIFEST_UNKNOWN", 404, "manifest unknown to registry"};
    case ErrorCode::NameInvalid: return {"NAME_INVALID", 400, "invalid repository name"};
    case ErrorCode::NameUnknown: return {"NAME_UNKNOWN", 404, "repository name not known to registry"};
    case ErrorCode::SizeInvalid: return {"SIZE_INVALID", 400, "provided length did not match content length"};
    case ErrorCode::RangeInvalid: return {"RANGE_INVALID", 416, "invalid content range"};
    case ErrorCode::TagInvalid: return {"TAG_INVALID", 400, "manifest tag did not match URI"};
    case ErrorCode::PaginationNumberInvalid: return {"PAGINATION_NUMBER_INVALID", 400, "invalid number of results requested"};
    case ErrorCode::Unauthorized: return {"UNAUTHORIZED", 401, "authentication required"};
    case ErrorCode::Denied: return {"DENIED", 403, "requested access to the resource is denied"};
    case ErrorCode::Unsupported: return {"UNSUPPORTED", 405, "the operation is unsupported"};
    case ErrorCode::TooManyRequests: return {"TOOMANYREQUESTS", 429, "too many requests"};
    case ErrorCode::Unavailable: return {"UNAVAILABLE", 503, "service unavailable"};
    case ErrorCode::RequestTimeout: return {"REQUEST_TIMEOUT", 408, "request timeout"};
    case ErrorCode::BadRequest: return {"BAD_REQUEST", 400, "bad request"};
    case ErrorCode::NotFound: return {"NOT_FOUND", 404, "not found"};
    case ErrorCode::InsufficientStorage: return {"DENIED", 507, "insufficient storage: pushes are refused"};
    case ErrorCode::Unknown: break;
  }
  return {"UNKNOWN", 500, "unknown error"};
}

}  // namespace

std::string_view errorCodeName(ErrorCode code) { return info(code).name; }
int errorHttpStatus(ErrorCode code) { return info(code).status; }
std::string_view errorDefaultMessage(ErrorCode code) { return info(code).message; }

Error errnoError(int err, std::string_view what, std::string_view path) {
  std::string msg(what);
  msg += " ";
  msg += path;
  msg += ": ";
  msg += std::strerror(err);
  // Exhausted resources (disk space, descriptors) are temporary: 503, so that clients retry.
  bool exhausted = err == ENOSPC || err == EMFILE || err == ENFILE;
  return Error{exhausted ? ErrorCode::Unavailable : ErrorCode::Unknown, std::move(msg), {}, true};
}

}  // namespace berth
