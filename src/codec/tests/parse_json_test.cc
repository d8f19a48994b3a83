#include "codec/parse_json.h"

#include <gtest/gtest.h>

#include <bit>
#include <boost/json.hpp>
#include <charconv>
#include <cstdint>
#include <string>

#include "codec/json_codec.h"

namespace iotjobs::codec {
namespace {

namespace json = boost::json;

// std::from_chars's reading of `text`: the correctly rounded double.
double FromChars(const std::string& text) {
  double d = 0;
  const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), d);
  EXPECT_EQ(err, std::errc()) << text;
  EXPECT_EQ(end, text.data() + text.size()) << text;
  return d;
}

// The double `text` parses to through ParseJson, as the bits (so -0.0 and ulps count).
uint64_t ParsedBits(const std::string& text) {
  boost::system::error_code ec;
  json::value v = ParseJson("[" + text + "]", ec);
  EXPECT_FALSE(ec) << text << ": " << ec.message();
  if (ec || !v.is_array() || v.get_array().size() != 1 || !v.get_array()[0].is_double()) {
    ADD_FAILURE() << text << " did not parse to a double";
    return 0;
  }
  return std::bit_cast<uint64_t>(v.get_array()[0].get_double());
}

// Fuzz finding codec-double-roundtrip: Boost.JSON 1.81's parse is not correctly rounded, so
// serialize -> parse moved a double by an ulp. Each case is compared with std::from_chars, and
// the double serialize writes must come back bit for bit.
TEST(ParseJsonTest, CodecDoubleRoundtripDoublesAreCorrectlyRounded) {
  for (const std::string text :
       {"2.0284738091292998E23", "0.1", "5e-324", "1.7976931348623157e308", "9007199254740993.0",
        "-2.0284738091292998E23", "2.2250738585072011e-308", "4.9406564584124654e-324",
        "18446744073709551616", "1e23", "8.98846567431158e307"}) {
    const double want = FromChars(text);
    EXPECT_EQ(ParsedBits(text), std::bit_cast<uint64_t>(want)) << text;
    const std::string written = json::serialize(json::value(want));
    EXPECT_EQ(ParsedBits(written), std::bit_cast<uint64_t>(want))
        << text << " written as " << written;
  }
}

// The finding's own value, through the stored-config codec the fuzzer drove.
TEST(ParseJsonTest, CodecDoubleRoundtripThresholdSurvivesConfigsJson) {
  const std::string text =
      R"({"abortConfig":{"criteriaList":[{"failureType":"FAILED","action":"CANCEL",)"
      R"("thresholdPercentage":2.0284738091292998E23,"minNumberOfExecutedThings":1}]}})";
  auto c = ConfigsFromJson(text);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE(c->abort_config.has_value());
  ASSERT_EQ(c->abort_config->criteria_list.size(), 1u);
  EXPECT_EQ(std::bit_cast<uint64_t>(c->abort_config->criteria_list[0].threshold_percentage),
            std::bit_cast<uint64_t>(FromChars("2.0284738091292998E23")));
  auto back = ConfigsFromJson(ConfigsToJson(*c));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back == *c);
}

TEST(ParseJsonTest, KeepsBoostsGrammarLimitsAndStorage) {
  boost::system::error_code ec;
  json::value v = ParseJson(R"({"a":[1,-2,18446744073709551615,1.5,"s",true,null]})", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(v, json::parse(R"({"a":[1,-2,18446744073709551615,1.5,"s",true,null]})"));
  EXPECT_TRUE(v.at("a").at(0).is_int64());
  EXPECT_TRUE(v.at("a").at(2).is_uint64());

  ParseJson("{} x", ec);
  EXPECT_EQ(ec, json::error::extra_data);
  ParseJson("[1,", ec);
  EXPECT_TRUE(ec);
  ParseJson("", ec);
  EXPECT_TRUE(ec);

  json::parse_options opts;
  opts.max_depth = 2;
  ParseJson("[[[]]]", ec, {}, opts);
  EXPECT_EQ(ec, json::error::too_deep);
  ParseJson("[[]]", ec, {}, opts);
  EXPECT_FALSE(ec);

  // Beyond the double range: refused, since infinity cannot be written back as JSON (the codec
  // fuzz target's second finding: a stored 2e332 came back as `Infinity` and no longer parsed).
  v = ParseJson("[1e400]", ec);
  EXPECT_EQ(ec, json::error::exponent_overflow);
  ec = {};
  v = ParseJson("[-2028473809129300010053051e308]", ec);
  EXPECT_EQ(ec, json::error::exponent_overflow);
  // Below it: the nearest double, zero, which writes back.
  ec = {};
  v = ParseJson("[1e-400]", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(v.as_array()[0].as_double(), 0.0);

  auto sp = json::make_shared_resource<json::monotonic_resource>();
  json::value in_arena =
      ParseJson(R"({"k":"a string long enough to allocate from the arena"})", ec, sp);
  ASSERT_FALSE(ec);
  EXPECT_EQ(in_arena.storage(), sp);
}

}  // namespace
}  // namespace iotjobs::codec
