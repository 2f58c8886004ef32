#include "support/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace k2t {
namespace {

TEST(ParseJsonTest, PlainJson) {
  auto parsed = ParseJson(R"({"a": [1, 2.5, "x", null, true]})");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ((*parsed)["a"][0], 1);
  EXPECT_EQ((*parsed)["a"][1], 2.5);
  EXPECT_EQ((*parsed)["a"][2], "x");
}

TEST(ParseJsonTest, PythonTokensOutsideStringsAreNumbers) {
  auto parsed = ParseJson(R"({"a": NaN, "b": Infinity, "c": -Infinity, "d": [NaN, 1]})");
  ASSERT_TRUE(parsed.ok());
  const Json& j = *parsed;
  ASSERT_TRUE(j["a"].is_number_float());
  EXPECT_TRUE(std::isnan(j["a"].get<double>()));
  EXPECT_EQ(j["b"].get<double>(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(j["c"].get<double>(), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(j["d"][0].get<double>()));
  EXPECT_EQ(j["d"][1], 1);
  EXPECT_TRUE(std::isnan(*NumberValue(j["a"])));
  EXPECT_EQ(*NumberValue(j["c"]), -std::numeric_limits<double>::infinity());
}

TEST(ParseJsonTest, PythonTokensInsideStringsStayStrings) {
  auto parsed = ParseJson(
      R"({"name": "NaN", "other": "Infinity", "neg": "-Infinity", "mixed": "a NaN \" Infinity"})");
  ASSERT_TRUE(parsed.ok());
  const Json& j = *parsed;
  EXPECT_EQ(j["name"], "NaN");
  EXPECT_EQ(j["other"], "Infinity");
  EXPECT_EQ(j["neg"], "-Infinity");
  EXPECT_EQ(j["mixed"], "a NaN \" Infinity");
  EXPECT_FALSE(NumberValue(j["name"]).has_value());
  EXPECT_EQ(PythonLiteral(j["name"]), "\"NaN\"");
}

TEST(ParseJsonTest, PythonTokensAsTheWholeDocument) {
  auto nan = ParseJson("NaN");
  ASSERT_TRUE(nan.ok());
  EXPECT_TRUE(std::isnan(nan->get<double>()));
  auto text = ParseJson(R"("NaN")");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "NaN");
}

TEST(ParseJsonTest, PythonTokensAreNotKeys) {
  auto parsed = ParseJson(R"({NaN: 1})");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().message(), "the JSON text is not valid JSON (NaN or Infinity as a key)");
  // A quoted key of the same spelling is an ordinary key.
  auto quoted = ParseJson(R"({"NaN": 1})");
  ASSERT_TRUE(quoted.ok());
  EXPECT_EQ((*quoted)["NaN"], 1);
}

TEST(ParseJsonTest, EscapedQuotesDoNotEndAString) {
  auto parsed = ParseJson(R"({"a": "x\\\"NaN", "b": NaN})");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ((*parsed)["a"], "x\\\"NaN");
  EXPECT_TRUE((*parsed)["b"].is_number_float());
}

TEST(ParseJsonTest, InvalidJsonSaysWhere) {
  // Positions count bytes of the text as given, from 1.
  const std::pair<const char*, int> cases[] = {
      {"", 1},        {"{", 2},    {"{\"a\": }", 7},   {"[1, 2", 6},
      {"nan", 2},     {"{\"a\": Inf}", 7}, {"\x89PNG", 1},
      // After a NaN token, which is rewritten internally, the position still
      // refers to the original text.
      {"[NaN, NaN, x]", 12},
  };
  for (const auto& [text, byte] : cases) {
    auto parsed = ParseJson(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error().message(),
              fmt::format("the JSON text is not valid JSON (error at byte {})", byte))
        << text;
  }
}

TEST(ParseJsonTest, DepthLimit) {
  JsonLimits limits;
  limits.max_depth = 3;
  EXPECT_TRUE(ParseJson("[[[1]]]", limits).ok());
  EXPECT_TRUE(ParseJson(R"({"a": {"b": [1]}})", limits).ok());
  auto deep = ParseJson("[[[[1]]]]", limits);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error().message(), "the JSON text nests deeper than the limit of 3 levels "
            "(raise it with --max-json-depth)");
  // Brackets inside strings do not count.
  EXPECT_TRUE(ParseJson(R"([["[[[[{{{{"]])", limits).ok());
}

TEST(ParseJsonTest, DefaultDepthLimitStopsAHostileFile) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto parsed = ParseJson(deep);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().message(), "the JSON text nests deeper than the limit of 512 levels "
            "(raise it with --max-json-depth)");
}

TEST(ParseJsonTest, SizeLimit) {
  JsonLimits limits;
  limits.max_bytes = 10;
  EXPECT_TRUE(ParseJson("[1, 2, 3]", limits).ok());
  auto large = ParseJson("[1, 2, 3, 4]", limits);
  ASSERT_FALSE(large.ok());
  EXPECT_EQ(large.error().message(), "the JSON text is 12 bytes, more than the limit of 10 bytes "
            "(raise it with --max-json-bytes)");
}

TEST(NumberValueTest, OnlyNumbers) {
  EXPECT_EQ(*NumberValue(Json(3)), 3.0);
  EXPECT_EQ(*NumberValue(Json(-0.5)), -0.5);
  EXPECT_FALSE(NumberValue(Json("3")).has_value());
  EXPECT_FALSE(NumberValue(Json()).has_value());
  EXPECT_FALSE(NumberValue(Json::array()).has_value());
}

TEST(AbbreviateTest, ShortAndPythonSpelling) {
  auto parsed = ParseJson(R"({"a": [NaN, -Infinity, 1.5, "t"]})");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(Abbreviate(*parsed), R"({"a":[NaN,-Infinity,1.5,"t"]})");
  EXPECT_EQ(Abbreviate(Json(std::string(100, 'x')), 10), "\"xxxxxxxxx...");
  EXPECT_EQ(Abbreviate(Json("line\nbreak")), R"("line\nbreak")");
}

TEST(AbbreviateTest, InvalidUtf8NeverThrows) {
  // Strings that did not come from the parser (HDF5 attributes) may hold any bytes.
  EXPECT_EQ(Abbreviate(Json(std::string("a\xff"))), "\"a\xef\xbf\xbd\"");
}

TEST(PythonLiteralTest, Scalars) {
  EXPECT_EQ(PythonLiteral(Json()), "None");
  EXPECT_EQ(PythonLiteral(Json(true)), "True");
  EXPECT_EQ(PythonLiteral(Json(false)), "False");
  EXPECT_EQ(PythonLiteral(Json(42)), "42");
  EXPECT_EQ(PythonLiteral(Json(-7)), "-7");
  EXPECT_EQ(PythonLiteral(Json(2.0)), "2.0");
  EXPECT_EQ(PythonLiteral(Json(0.001)), "0.001");
  EXPECT_EQ(PythonLiteral(Json("it's")), "\"it's\"");
}

TEST(PythonLiteralTest, NonFiniteNumbers) {
  auto parsed = ParseJson("[NaN, Infinity, -Infinity]");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(PythonLiteral(*parsed), "[float(\"nan\"), float(\"inf\"), float(\"-inf\")]");
}

TEST(PythonLiteralTest, Containers) {
  auto parsed = ParseJson(R"({"b": [1, "x", null], "a\"": {"c": false}})");
  ASSERT_TRUE(parsed.ok());
  // nlohmann keeps object keys sorted.
  EXPECT_EQ(PythonLiteral(*parsed), R"({"a\"": {"c": False}, "b": [1, "x", None]})");
  EXPECT_EQ(PythonLiteral(Json::array()), "[]");
  EXPECT_EQ(PythonLiteral(Json::object()), "{}");
}

TEST(PythonLiteralTest, StringsAreEscaped) {
  EXPECT_EQ(PythonLiteral(Json("a\"\"\"b\\c\nd")), R"("a\"\"\"b\\c\nd")");
}

}  // namespace
}  // namespace k2t
