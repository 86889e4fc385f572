#include "core/json_input.h"

namespace berth::json_input {

using nlohmann::json;

bool validUtf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min = 0x10000;
    else return false;
    if (text.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

unsigned nestingDepth(std::string_view text, unsigned stop_after) {
  unsigned depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char ch : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (ch == '\\') escaped = true;
      else if (ch == '"') in_string = false;
      continue;
    }
    switch (ch) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > deepest) deepest = depth;
        if (deepest > stop_after) return deepest;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return deepest;
}

Result<json> parse(std::string_view text, ErrorCode code, unsigned max_depth) {
  if (nestingDepth(text, max_depth) > max_depth)
    return fail(code, "JSON nested too deeply", "the limit is " + std::to_string(max_depth) + " levels");
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return fail(code, "body is not valid JSON");
  return doc;
}

Fields::Fields(const json& obj, ErrorCode code, std::string where)
    : obj_(obj), code_(code), where_(std::move(where)) {
  if (!obj_.is_object()) error_ = Error{code_, where_ + " must be a JSON object", {}};
}

const json* Fields::field(const char* key, bool (json::*is)() const noexcept, std::string_view what) {
  if (!obj_.is_object()) return nullptr;
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) return nullptr;
  if (!((*it).*is)()) {
    reject(key, what);
    return nullptr;
  }
  return &*it;
}

void Fields::reject(const char* key, std::string_view must_be) {
  if (error_) return;
  std::string msg = "field '" + std::string(key) + "' must be " + std::string(must_be);
  error_ = Error{code_, msg, "in the " + where_};
}

std::optional<std::string> Fields::string(const char* key) {
  const json* v = field(key, &json::is_string, "a string");
  if (!v) return std::nullopt;
  return v->get<std::string>();
}

std::optional<int64_t> Fields::integer(const char* key) {
  const json* v = field(key, &json::is_number_integer, "an integer");
  if (!v) return std::nullopt;
  if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX)) {
    reject(key, "an integer that fits in 64 bits");
    return std::nullopt;
  }
  return v->get<int64_t>();
}

std::optional<bool> Fields::boolean(const char* key) {
  const json* v = field(key, &json::is_boolean, "true or false");
  if (!v) return std::nullopt;
  return v->get<bool>();
}

std::optional<std::vector<std::string>> Fields::strings(const char* key) {
  const json* v = field(key, &json::is_array, "a list of strings");
  if (!v) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(v->size());
  for (const auto& s : *v) {
    if (!s.is_string()) {
      reject(key, "a list of strings");
      return std::nullopt;
    }
    out.push_back(s.get<std::string>());
  }
  return out;
}

const json* Fields::array(const char* key) { return field(key, &json::is_array, "a list"); }
const json* Fields::object(const char* key) { return field(key, &json::is_object, "an object"); }

Status Fields::status() const {
  if (error_) return tl::unexpected(*error_);
  return {};
}

}  // namespace berth::json_input
