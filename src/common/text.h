// Small text helpers shared by every module: percent-encoding, base64url, hex, UTF-8 checks.
// All functions are pure and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace iotjobs {

// RFC 3986 percent-encoding as AWS SigV4 wants it: unreserved characters (A-Z a-z 0-9 - _ . ~)
// stay, everything else becomes %XX (upper-case hex). With keep_slash, '/' also stays.
std::string UriEncode(std::string_view s, bool keep_slash = false);

// Decodes %XX sequences (and '+' as space when plus_is_space). Returns nullopt on a malformed
// escape.
std::optional<std::string> UriDecode(std::string_view s, bool plus_is_space = false);

// URL-safe base64 without padding, and its inverse (nullopt on bad input).
std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);

std::string HexEncode(std::string_view bytes);

// True when `s` is well-formed UTF-8.
bool IsValidUtf8(std::string_view s);

// True when `s` is valid UTF-8 without code points of Unicode category C (controls, format
// characters, surrogates, private use): the model's `[^\p{C}]+` pattern. Unassigned code points are
// not detected (we carry no Unicode tables); they pass.
bool IsPrintableUnicode(std::string_view s);

// Number of Unicode code points in valid UTF-8 `s` (AWS length limits count characters).
size_t Utf8Length(std::string_view s);

// `s` with every malformed UTF-8 sequence (bad lead or continuation byte, truncated, overlong,
// surrogate, past U+10FFFF) replaced by U+FFFD: always valid UTF-8, unchanged when `s` already is.
std::string ToValidUtf8(std::string_view s);

// User input quoted in a message: ToValidUtf8(s) cut after at most `max_chars` code points, never
// inside one. Every message that echoes a request's text goes through this (or through
// api::ErrorResponse, which applies ToValidUtf8 to the whole message), so no answer carries
// invalid UTF-8 (issue 16, finding 7).
std::string Utf8Excerpt(std::string_view s, size_t max_chars);

// True when every byte of `s` is in the ASCII set `allowed` or an ASCII letter/digit.
bool IsAlnumOr(std::string_view s, std::string_view allowed);

}  // namespace iotjobs
