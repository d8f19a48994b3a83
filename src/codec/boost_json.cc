// The one translation unit that compiles Boost.JSON (header-only use of the Debian package).
#include <boost/json/src.hpp>

// codec::ParseJson lives here too: it instantiates boost::json::basic_parser, whose implementation
// is as heavy as the rest of Boost.JSON.
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>
#include <charconv>
#include <cmath>
#include <string>
#include <system_error>

#include "codec/parse_json.h"

namespace iotjobs::codec {
namespace {

namespace json = boost::json;

// boost::json::detail::handler (what boost::json::parser uses), except that doubles are re-read
// from their text with std::from_chars.
struct CorrectlyRoundedHandler {
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack st;
  std::string number;  // the parts of a number split across writes (ParseJson writes once)

  CorrectlyRoundedHandler(json::storage_ptr sp, unsigned char* buf, std::size_t size)
      : st(std::move(sp), buf, size) {}

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t n, json::error_code&) {
    st.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    number.clear();
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    number.clear();
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view s, json::error_code& ec) {
    std::string_view text(s.data(), s.size());
    if (!number.empty()) {
      number.append(s.data(), s.size());
      text = number;
    }
    double exact = 0;
    const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), exact);
    if (err == std::errc() && end == text.data() + text.size()) d = exact;
    number.clear();
    if (!std::isfinite(d)) {
      // A number beyond the double range (e.g. 2e332) became infinity, which JSON cannot write
      // back: the serializer emits `Infinity`, so a stored value would not read again (found by
      // the codec fuzz target). No model member takes such a number; refuse it at the parse.
      ec = json::error::exponent_overflow;
      return false;
    }
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

}  // namespace

json::value ParseJson(std::string_view text, boost::system::error_code& ec, json::storage_ptr sp,
                      const json::parse_options& opts) {
  // As boost::json::parse: a stack buffer for the value stack's scratch space, the result in `sp`.
  unsigned char temp[BOOST_JSON_STACK_BUFFER_SIZE];
  json::basic_parser<CorrectlyRoundedHandler> p(opts, json::storage_ptr(), temp, sizeof(temp));
  p.handler().st.reset(std::move(sp));
  ec = {};
  const std::size_t n = p.write_some(false, text.data(), text.size(), ec);
  if (ec) return nullptr;
  if (n < text.size()) {
    ec = json::error::extra_data;
    return nullptr;
  }
  if (!p.done()) {  // cannot happen with more == false, but never release a partial value
    ec = json::error::incomplete;
    return nullptr;
  }
  return p.handler().st.release();
}

}  // namespace iotjobs::codec
