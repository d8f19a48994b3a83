// Parsing JSON text with correctly rounded doubles.
//
// Boost.JSON 1.81's parser is not correctly rounded: `2.0284738091292998E23`, the shortest
// round-trip form that boost::json::serialize writes for a double, parses back one ulp off (fuzz
// finding codec-double-roundtrip). Every JSON text the service reads (request bodies, stored
// values, device payloads) goes through ParseJson instead of boost::json::parse.
#pragma once

#include <boost/json/error.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <string_view>

namespace iotjobs::codec {

// Parses `text` as one JSON document, like boost::json::parse(text, ec, sp, opts): the same
// grammar, limits (`opts.max_depth`, extensions) and errors (`ec` set, null returned; trailing
// data is error::extra_data). The one difference: every number that becomes a double is re-read
// from its full text with std::from_chars, which is correctly rounded, so serialize followed by
// ParseJson returns the same double bit for bit. Where from_chars cannot read the text (e.g. out of
// range), Boost's value is kept. The value's storage is `sp` (the default resource when null).
// Thread-safe (no shared state).
boost::json::value ParseJson(std::string_view text, boost::system::error_code& ec,
                             boost::json::storage_ptr sp = {},
                             const boost::json::parse_options& opts = {});

}  // namespace iotjobs::codec
