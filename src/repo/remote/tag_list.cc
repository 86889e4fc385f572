#include "repo/remote/tag_list.h"

#include <nlohmann/json.hpp>

#include "berth/core/reference.h"
#include "http/client.h"
#include "repo/remote/upstream.h"

namespace berth::repo::remote {
namespace {

using json = nlohmann::json;

// Keeps the strings of the top-level object's "tags" array; skips the rest.
class TagCollector final : public json::json_sax_t {
 public:
  explicit TagCollector(std::size_t n) : n_(n) {}

  bool null() override { return scalar(); }
  bool boolean(bool) override { return scalar(); }
  bool number_integer(number_integer_t) override { return scalar(); }
  bool number_unsigned(number_unsigned_t) override { return scalar(); }
  bool number_float(number_float_t, const string_t&) override { return scalar(); }
  bool binary(binary_t&) override { return scalar(); }
  bool string(string_t& s) override {
    if (in_tags_ && depth_ == 2 && isValidTag(s)) {
      if (page.items.size() < n_)
        page.items.push_back(std::move(s));
      else
        page.more = true;
    }
    return scalar();
  }
  bool start_object(std::size_t) override {
    if (depth_ == 0) is_object = true;
    tags_next_ = false;
    ++depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ == 1) {
      tags_next_ = k == "tags";
      has_tags = has_tags || tags_next_;
    }
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_ == 1 && tags_next_) in_tags_ = true;
    tags_next_ = false;
    ++depth_;
    return true;
  }
  bool end_array() override {
    if (--depth_ == 1) in_tags_ = false;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

  storage::Page page;
  bool is_object = false;  // the document is an object
  bool has_tags = false;   // with a "tags" key ("tags": null is no tags)

 private:
  bool scalar() {
    tags_next_ = false;
    return true;
  }
  std::size_t n_;
  std::size_t depth_ = 0;
  bool tags_next_ = false;  // the value of the top level's "tags" key comes next
  bool in_tags_ = false;    // inside that value, an array
};

}  // namespace

Result<storage::Page> parseTagList(std::string_view body, std::size_t n, const std::string& host) {
  TagCollector collector(n);
  bool ok = json::sax_parse(body, &collector, json::input_format_t::json, /*strict=*/true);
  if (!ok || !collector.is_object || !collector.has_tags)
    return fail(ErrorCode::Unavailable, "upstream " + host + " sent an unreadable tag list");
  return std::move(collector.page);
}

Result<storage::Page> fetchTagList(Upstream& upstream, const Call& call, const std::string& name,
                                   const std::string& suffix, std::size_t n) {
  auto res = upstream.request("GET", name, suffix, {}, call.suspender);
  if (!res) return tl::unexpected(res.error());
  if ((*res)->status != 200) return tl::unexpected(upstream.errorFor(**res, ErrorCode::NameUnknown, "repository " + name));
  // Refused at once when the upstream announces more; read no further than
  // the bound when it does not say.
  auto body = (*res)->readAll(kMaxTagListBytes);
  if (!body)
    return fail(ErrorCode::Unavailable, "upstream " + upstream.host() + " sent a tag list that could not be read",
                body.error().message);
  auto page = parseTagList(*body, n, upstream.host());
  if (!page) return page;
  if (!(*res)->header("Link").empty()) page->more = true;
  return page;
}

}  // namespace berth::repo::remote
