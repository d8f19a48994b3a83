#include "api/wire.h"

#include <charconv>

#include "codec/json_codec.h"
#include "codec/parse_json.h"
#include "common/text.h"

namespace iotjobs::api {
namespace json = boost::json;

namespace {

// The first malformed %-escape of `s` (up to 3 bytes from its '%'), or empty when there is none.
std::string_view BadEscape(std::string_view s) {
  auto hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  for (size_t i = s.find('%'); i != std::string_view::npos; i = s.find('%', i + 1)) {
    if (i + 2 >= s.size() || !hex(s[i + 1]) || !hex(s[i + 2])) return s.substr(i, 3);
    i += 2;
  }
  return {};
}

std::string EscapeError(std::string_view where, std::string_view escape) {
  return std::string(where) + " has a malformed %-escape '" + Utf8Excerpt(escape, 3) +
         "'; an escape is % and two hex digits";
}

}  // namespace

Result<std::vector<std::string>> Segments(std::string_view path) {
  std::vector<std::string> out;
  if (path.empty() || path[0] != '/') {
    return Status::InvalidRequest(
        "the request target must be an absolute path starting with '/' (origin form), got '" +
        Utf8Excerpt(path, 64) + "'");
  }
  if (auto bad = BadEscape(path); !bad.empty()) {
    return Status::InvalidRequest(EscapeError("the request path", bad));
  }
  size_t start = 1;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string_view seg = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    auto d = UriDecode(seg);
    if (!d) return Status::InvalidRequest(EscapeError("the request path", seg));
    if (!d->empty() || slash != std::string_view::npos) out.push_back(std::move(*d));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

Status CheckQuery(std::string_view query) {
  size_t start = 0;
  while (start < query.size()) {
    size_t amp = query.find('&', start);
    std::string_view pair =
        query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    if (auto bad = BadEscape(pair); !bad.empty()) {
      std::string_view name = pair.substr(0, pair.find('='));
      auto decoded = UriDecode(name, true);
      return Status::InvalidRequest(
          EscapeError(decoded ? "query parameter " + Utf8Excerpt(*decoded, 64)
                              : "a query parameter name ('" + Utf8Excerpt(name, 64) + "')",
                      bad));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return Status::Ok();
}

std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    std::string_view pair =
        query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    size_t eq = pair.find('=');
    auto k = UriDecode(pair.substr(0, eq), true);
    if (k && *k == name) {
      auto v = UriDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
      return v ? *v : std::string();
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return std::nullopt;
}

Result<int64_t> IntParam(std::string_view query, std::string_view name) {
  auto v = QueryParam(query, name);
  if (!v) return int64_t{0};
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || p != v->data() + v->size()) {
    return Status::InvalidRequest(std::string(name) + " must be an integer, got '" +
                                  Utf8Excerpt(*v, 64) + "'");
  }
  return n;
}

Result<std::optional<std::string>> NameParam(std::string_view query, std::string_view name,
                                             size_t min, size_t max, std::string_view allowed) {
  auto v = QueryParam(query, name);
  if (!v) return std::optional<std::string>();
  const size_t n = Utf8Length(*v);
  if (n < min || n > max) {
    return Status::InvalidRequest(std::string(name) + " must be " + std::to_string(min) + " to " +
                                  std::to_string(max) + " characters, got " + std::to_string(n));
  }
  if (!IsAlnumOr(*v, allowed)) {
    return Status::InvalidRequest(std::string(name) + " must be made of [a-zA-Z0-9" +
                                  std::string(allowed) + "], got '" + Utf8Excerpt(*v, 64) + "'");
  }
  return v;
}

Result<std::optional<bool>> BoolParam(std::string_view query, std::string_view name) {
  auto v = QueryParam(query, name);
  if (!v) return std::optional<bool>();
  if (*v == "true") return std::optional<bool>(true);
  if (*v == "false") return std::optional<bool>(false);
  return Status::InvalidRequest(std::string(name) + " must be true or false, got '" +
                                Utf8Excerpt(*v, 64) + "'");
}

Result<int> MaxResults(std::string_view query) {
  auto n = IntParam(query, "maxResults");
  if (!n.ok()) return n.status();
  if (QueryParam(query, "maxResults") && (*n < 1 || *n > 250)) {
    return Status::InvalidRequest("maxResults must be between 1 and 250, got " +
                                  std::to_string(*n));
  }
  return static_cast<int>(*n);
}

namespace {

// JSON values in `text` (an upper bound: every ',' ':' '[' '{' outside strings, plus one), found
// without building anything.
size_t CountJsonValues(std::string_view text) {
  size_t n = 1;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == ',' || c == ':' || c == '[' || c == '{') {
      ++n;
    }
  }
  return n;
}

}  // namespace

Result<json::object> ParseBody(const http::Request& req) {
  if (req.body.empty()) return json::object();
  // Finding 4 (issue 16): a parse costs ~16 bytes and an allocation per value, so a 1 MB array
  // cost ~8 MB. The largest valid input (CreateJob with 100 targets, 50 tags, a criteria list and
  // parameters) has well under a thousand values; allow ten times that, at most 32 deep. The tree
  // lives in one arena, freed at once with the object.
  if (CountJsonValues(req.body) > kMaxBodyJsonValues) {
    return Status::InvalidRequest("request body has more than " +
                                  std::to_string(kMaxBodyJsonValues) + " JSON values");
  }
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 32;
  json::value v =
      codec::ParseJson(req.body, ec, json::make_shared_resource<json::monotonic_resource>(), opts);
  if (ec) return Status::InvalidRequest("request body is not valid JSON: " + ec.message());
  if (!v.is_object()) return Status::InvalidRequest("request body must be a JSON object");
  return std::move(v.get_object());
}

Status OptString(const json::object& o, const char* field, std::optional<std::string>* out) {
  std::string s;
  bool found;
  IOTJOBS_RETURN_IF_ERROR(codec::GetString(o, field, "", &s, &found));
  if (found) *out = std::move(s);
  return Status::Ok();
}

http::Response CreateError(const Status& st, const std::string& id, const std::string& arn) {
  http::Response r = Error(st);
  if (st.code() != Code::kConflict && st.code() != Code::kAlreadyExists) return r;
  json::object b = json::parse(r.body).as_object();
  b["resourceId"] = id;
  if (st.code() == Code::kAlreadyExists) b["resourceArn"] = arn;
  r.body = json::serialize(b);
  return r;
}

double EpochSeconds(Instant t) { return static_cast<double>(ToEpochMillis(t)) / 1000.0; }

http::Response Ok(const json::object& body) {
  http::Response r;
  r.body = json::serialize(body);
  return r;
}

http::Response OkEmpty() {
  http::Response r;
  r.body = "{}";
  return r;
}

}  // namespace iotjobs::api
