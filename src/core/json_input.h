// Untrusted JSON in: every JSON document Berth accepts from a client
// (manifests, the security API, token requests, and every API to come) is
// parsed here, with a nesting limit, and read through typed accessors that
// name the offending field. Why: nlohmann's parser copes with any depth, but
// dump() and other recursive walks of the result do not (a 2 MB array nested
// a million deep overflows the stack); and `value()`/`get<T>()` on a wrong
// type throw, which would turn a client's mistake into a 500.
//
// Stateless functions and a small value type; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "berth/core/error.h"

namespace berth::json_input {

// Generous for every format Berth reads (an OCI index is 4 levels deep).
constexpr unsigned kMaxDepth = 64;

// The nesting depth of arrays and objects in `text`, counted by a linear scan
// that skips strings; stops counting at `stop_after` + 1. For malformed text
// the result is an upper bound of what a parser would build before failing.
unsigned nestingDepth(std::string_view text, unsigned stop_after = kMaxDepth);

// Whether `text` is well-formed UTF-8 (no overlongs, surrogates or values
// beyond U+10FFFF). Text that did not come through parse() (form fields,
// query parameters, headers) must pass this before it goes into a JSON value:
// dump() throws on invalid UTF-8.
bool validUtf8(std::string_view text);

// Parses `text`: an error with `code` when it is not JSON or nests deeper
// than `max_depth`. The message says which; the detail never echoes input.
Result<nlohmann::json> parse(std::string_view text, ErrorCode code, unsigned max_depth = kMaxDepth);

// Typed reads of one JSON object's fields. An absent (or null) field reads as
// nullopt; a field of the wrong type also reads as nullopt and records an
// error naming it ("field 'actions' must be a list of strings"). Check
// status() after the reads.
class Fields {
 public:
  // `obj` must outlive this; if it is not an object, status() says so.
  Fields(const nlohmann::json& obj, ErrorCode code, std::string where = "request body");

  std::optional<std::string> string(const char* key);
  std::optional<int64_t> integer(const char* key);  // a JSON integer that fits int64
  std::optional<bool> boolean(const char* key);
  std::optional<std::vector<std::string>> strings(const char* key);
  // For nested structures: null when absent or of another type (recorded).
  const nlohmann::json* array(const char* key);
  const nlohmann::json* object(const char* key);
  // Records a caller's own complaint about a field (first error wins).
  void reject(const char* key, std::string_view must_be);

  bool ok() const { return !error_; }
  Status status() const;

 private:
  const nlohmann::json* field(const char* key, bool (nlohmann::json::*is)() const noexcept, std::string_view what);

  const nlohmann::json& obj_;
  ErrorCode code_;
  std::string where_;
  std::optional<Error> error_;
};

}  // namespace berth::json_input
