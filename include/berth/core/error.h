// Errors as values. Every failure on the request path is an Error; the HTTP
// layer turns it into the spec's JSON body and status in exactly one place
// (api/error_response). Codes are the OCI Distribution Spec's error codes.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace berth {

enum class ErrorCode {
  BlobUnknown,
  BlobUploadInvalid,
  BlobUploadUnknown,
  DigestInvalid,
  ManifestBlobUnknown,
  ManifestInvalid,
  ManifestUnknown,
  NameInvalid,
  NameUnknown,
  SizeInvalid,
  RangeInvalid,
  TagInvalid,
  PaginationNumberInvalid,
  Unauthorized,
  Denied,
  Unsupported,
  TooManyRequests,
  Unavailable,
  // Not in the distribution spec: for Berth's own REST API (/api/security/...).
  BadRequest,
  NotFound,
  // A client too slow for server.min_body_bytes_per_second: 408.
  RequestTimeout,
  // DENIED with HTTP 507: the storage is below storage.min_free_bytes.
  InsufficientStorage,
  Unknown,
};

struct Error {
  ErrorCode code = ErrorCode::Unknown;
  std::string message;
  std::string detail;  // free text; written as a JSON string when not empty
  // The message names server internals (a file path, SQLite's text): it goes
  // to the log, and the client gets a fixed sentence for the code instead.
  bool internal = false;
};

template <class T>
using Result = tl::expected<T, Error>;
using Status = Result<void>;

inline tl::unexpected<Error> fail(ErrorCode code, std::string message, std::string detail = {}) {
  return tl::unexpected<Error>(Error{code, std::move(message), std::move(detail)});
}

// The spec's name for the code, e.g. "BLOB_UNKNOWN".
std::string_view errorCodeName(ErrorCode code);
// The HTTP status the spec (or registry:2, where the spec is silent) uses.
int errorHttpStatus(ErrorCode code);
// The spec's default message for the code.
std::string_view errorDefaultMessage(ErrorCode code);
// The spec's JSON error body for `e`: {"errors":[{"code","message","detail"}]}.
// Server faults (internal, Unknown) carry paths, errno texts or SQL in their
// message: the body has the code's default message instead (the caller logs).
std::string errorBody(const Error& e);

// errno -> Error with the operation and path in the message; never thrown.
Error errnoError(int err, std::string_view what, std::string_view path);

}  // namespace berth
