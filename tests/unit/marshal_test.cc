#include "layers/pyexpr/marshal.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "layers/lambda.h"
#include "pyexpr_test_util.h"

namespace k2t::pyexpr {
namespace {

using testing::Bytes;
using testing::F64;
using testing::I32;
using testing::ShortStr;
using testing::SmallTuple;

PyRef Read(const std::string& bytes) {
  auto object = ReadMarshal(bytes);
  EXPECT_TRUE(object.ok()) << (object.ok() ? "" : object.error().message());
  return object.ok() ? *object : nullptr;
}

std::string ErrorOf(const std::string& bytes, const MarshalLimits& limits = {}) {
  auto object = ReadMarshal(bytes, limits);
  EXPECT_FALSE(object.ok());
  return object.ok() ? "" : object.error().message();
}

TEST(MarshalTest, Singletons) {
  EXPECT_EQ(Read("N")->type, PyType::kNone);
  EXPECT_TRUE(Read("T")->boolean);
  EXPECT_FALSE(Read("F")->boolean);
  EXPECT_EQ(Read(".")->type, PyType::kEllipsis);
  EXPECT_EQ(Read("S")->type, PyType::kStopIteration);
}

TEST(MarshalTest, Ints) {
  EXPECT_EQ(Read("i" + I32(-7))->integer, -7);
  EXPECT_EQ(Read("I" + I32(1) + I32(1))->integer, (std::int64_t{1} << 32) + 1);
  // TYPE_LONG: 15-bit digits, least significant first; the count carries the sign.
  const std::string two_digits = "l" + I32(-2) + std::string("\x01\x00\x02\x00", 4);
  EXPECT_EQ(Read(two_digits)->integer, -(1 + (2 << 15)));
  std::string big = "l" + I32(6);
  for (int i = 0; i < 6; ++i) big += std::string("\xff\x7f", 2);
  EXPECT_EQ(Read(big)->type, PyType::kBigInt);
  EXPECT_NE(ErrorOf("l" + I32(1) + std::string("\x00\x80", 2)).find("out of range"),
            std::string::npos);
}

TEST(MarshalTest, Floats) {
  EXPECT_EQ(Read("g" + F64(255.0))->real, 255.0);
  EXPECT_EQ(Read("f\x04-2.5")->real, -2.5);
  EXPECT_TRUE(std::isinf(Read("f\x03inf")->real));
  const PyRef complex = Read("y" + F64(1.5) + F64(-2.0));
  EXPECT_EQ(complex->type, PyType::kComplex);
  EXPECT_EQ(complex->imag, -2.0);
  EXPECT_EQ(Read("x\x03" "1.0" "\x01" "2")->imag, 2.0);
  EXPECT_NE(ErrorOf("f\x03" "abc").find("is not a number"), std::string::npos);
}

TEST(MarshalTest, StringsInEveryEncoding) {
  EXPECT_EQ(Read(Bytes("ab\x01"))->type, PyType::kBytes);
  EXPECT_EQ(Read("u" + I32(3) + "\xc3\xa9z")->text, "\xc3\xa9z");
  EXPECT_EQ(Read("t" + I32(2) + "hi")->text, "hi");
  EXPECT_EQ(Read("a" + I32(2) + "hi")->text, "hi");
  EXPECT_EQ(Read("A" + I32(2) + "hi")->text, "hi");
  EXPECT_EQ(Read("Z\x02hi")->text, "hi");
  // Marshal's ASCII forms are read as Latin-1, as Python reads them.
  EXPECT_EQ(Read("z\x01\xe9")->text, "\xc3\xa9");
  EXPECT_EQ(Read("z\x01\xe9")->type, PyType::kStr);
}

TEST(MarshalTest, Containers) {
  const PyRef tuple = Read("(" + I32(2) + "N" + "T");
  EXPECT_EQ(tuple->type, PyType::kTuple);
  EXPECT_EQ(tuple->items.size(), 2u);
  EXPECT_EQ(tuple->size, 3u);
  EXPECT_EQ(Read(SmallTuple({"N"}))->items.size(), 1u);
  EXPECT_EQ(Read("[" + I32(1) + "N")->type, PyType::kList);
  EXPECT_EQ(Read("<" + I32(1) + "N")->type, PyType::kSet);
  EXPECT_EQ(Read(">" + I32(0))->type, PyType::kFrozenSet);
  const PyRef dict = Read("{" + ShortStr("k") + "i" + I32(1) + "0");
  EXPECT_EQ(dict->type, PyType::kDict);
  ASSERT_EQ(dict->items.size(), 2u);
  EXPECT_EQ(dict->items[1]->integer, 1);
}

TEST(MarshalTest, BackReferences) {
  // ('x', 'x'): the first string flagged for reference, the second a reference to it.
  const std::string bytes = std::string(")\x02") + "\xfa\x01x" + "r" + I32(0);
  const PyRef tuple = Read(bytes);
  ASSERT_EQ(tuple->items.size(), 2u);
  EXPECT_EQ(tuple->items[0].get(), tuple->items[1].get());
  // A flagged container takes its index before its items: (5, (5,)) with the
  // outer tuple as reference 0 and the int as reference 1.
  const std::string nested = std::string("\xa9\x02") + "\xe9" + I32(5) + ")\x01r" + I32(1);
  const PyRef outer = Read(nested);
  ASSERT_EQ(outer->items.size(), 2u);
  EXPECT_EQ(outer->items[1]->items[0]->integer, 5);
}

TEST(MarshalTest, ReferencesThatPointNowhereAreErrors) {
  EXPECT_NE(ErrorOf("r" + I32(0)).find("names no earlier object"), std::string::npos);
  EXPECT_NE(ErrorOf("r" + I32(-1)).find("names no earlier object"), std::string::npos);
  // A tuple referring to itself while it is read (a cycle).
  EXPECT_NE(ErrorOf(std::string("\xa9\x01r") + I32(0)).find("still being read"),
            std::string::npos);
}

TEST(MarshalTest, TruncatedAndOversizedDataAreErrors) {
  EXPECT_NE(ErrorOf("").find("empty"), std::string::npos);
  EXPECT_NE(ErrorOf("i\x01\x02").find("runs past the end"), std::string::npos);
  EXPECT_NE(ErrorOf("s" + I32(100) + "abc").find("longer than the data left"),
            std::string::npos);
  EXPECT_NE(ErrorOf("(" + I32(1 << 30) + "N").find("longer than the data left"),
            std::string::npos);
  EXPECT_NE(ErrorOf("s" + I32(-1)).find("negative length"), std::string::npos);
  EXPECT_NE(ErrorOf("l" + I32(1 << 30)).find("longer than the data left"), std::string::npos);
  EXPECT_NE(ErrorOf("NN").find("follow the marshalled object"), std::string::npos);
  EXPECT_NE(ErrorOf("Q").find("unknown marshal type code 0x51 at offset 0"), std::string::npos);
  EXPECT_NE(ErrorOf("0").find("null object"), std::string::npos);
  MarshalLimits small;
  small.max_bytes = 4;
  EXPECT_NE(ErrorOf("s" + I32(1) + "a", small).find("more than the 4 accepted"),
            std::string::npos);
}

TEST(MarshalTest, DeepNestingIsAnError) {
  std::string bytes;
  for (int i = 0; i < 500; ++i) bytes += ")\x01";
  bytes += "N";
  EXPECT_NE(ErrorOf(bytes).find("nested more than"), std::string::npos);
}

TEST(MarshalTest, SharedObjectsCountAtEveryUse) {
  // Level k is a flagged tuple of level k + 1 and a reference to it: 2^40
  // objects when expanded, from a few hundred bytes. Outer tuples take their
  // reference index first, so level k is reference k.
  const int levels = 40;
  std::string chain = "\xa9\x02NN";
  for (int k = levels - 2; k >= 0; --k) chain = std::string("\xa9\x02") + chain + "r" + I32(k + 1);
  EXPECT_NE(ErrorOf(chain).find("more than"), std::string::npos);
}

TEST(MarshalTest, CodeObjectOfEachLayout) {
  const std::string names = SmallTuple({});
  const std::string consts = SmallTuple({"N"});
  auto code38 = ReadCodeObject(testing::Code38(std::string("|\x00S\x00", 4), consts, names));
  ASSERT_TRUE(code38.ok()) << code38.error().message();
  EXPECT_EQ((*code38)->layout, CodeLayout::kPy38To310);
  EXPECT_EQ((*code38)->varnames, std::vector<std::string>{"x"});
  EXPECT_EQ((*code38)->name, "<lambda>");

  auto code35 = ReadCodeObject(testing::Code35(std::string("|\x00\x00S", 4), consts, names));
  ASSERT_TRUE(code35.ok()) << code35.error().message();
  EXPECT_EQ((*code35)->layout, CodeLayout::kPy30To37);
  EXPECT_EQ((*code35)->nlocals, 1);
}

TEST(MarshalTest, CodeObjectsFromEveryPythonVersion) {
  for (const auto& fixture : fixtures::kCompiled) {
    SCOPED_TRACE(std::string(fixture.python) + " " + fixture.name);
    auto code = ReadCodeObject(testing::Unbase64(fixture.base64));
    ASSERT_TRUE(code.ok()) << code.error().message();
    const int minor = std::stoi(std::string(fixture.python).substr(2));
    const CodeLayout expected = minor <= 7    ? CodeLayout::kPy30To37
                                : minor <= 10 ? CodeLayout::kPy38To310
                                              : CodeLayout::kPy311Plus;
    EXPECT_EQ((*code)->layout, expected);
    ASSERT_FALSE((*code)->varnames.empty());
    EXPECT_EQ((*code)->filename, "<fixture>");
  }
}

TEST(MarshalTest, FieldsOfA311CodeObject) {
  const auto* fixture = testing::FindCompiled("3.11", "closure");
  ASSERT_NE(fixture, nullptr);
  auto code = ReadCodeObject(testing::Unbase64(fixture->base64));
  ASSERT_TRUE(code.ok()) << code.error().message();
  EXPECT_EQ((*code)->qualname, "make.<locals>.<lambda>");
  EXPECT_EQ((*code)->freevars, std::vector<std::string>{"n"});
  EXPECT_EQ((*code)->varnames, std::vector<std::string>{"x"});
  EXPECT_EQ((*code)->argcount, 1);
}

TEST(MarshalTest, CodeObjectsFromCorpusFiles) {
  for (const auto& fixture : fixtures::kCorpus) {
    SCOPED_TRACE(fixture.file);
    auto code = ReadCodeObject(testing::Unbase64(fixture.base64));
    ASSERT_TRUE(code.ok()) << code.error().message();
    EXPECT_GE((*code)->argcount, 1);
  }
}

TEST(MarshalTest, NotACodeObject) {
  auto code = ReadCodeObject("N");
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.error().message(), "the marshalled object is None, not a code object");
  // A code object with too few fields for any layout.
  auto broken = ReadCodeObject("c" + I32(1) + I32(0) + I32(0));
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message().find("not a code object of Python 3.0-3.13"),
            std::string::npos);
}

// Random damage to real code objects must give errors, never crashes: run
// under the sanitizers (K2T_SANITIZE) to check memory safety as well.
TEST(MarshalTest, DamagedCodeObjectsNeverCrash) {
  std::mt19937 random(12345);
  int parsed = 0;
  for (const auto& fixture : fixtures::kCompiled) {
    const std::string original = testing::Unbase64(fixture.base64);
    for (int trial = 0; trial < 40; ++trial) {
      std::string bytes = original;
      const int edits = 1 + static_cast<int>(random() % 4);
      for (int e = 0; e < edits; ++e) {
        const std::size_t at = random() % bytes.size();
        switch (random() % 3) {
          case 0: bytes[at] = static_cast<char>(random() & 0xFF); break;
          case 1: bytes.erase(at, 1 + random() % 8); break;
          default: bytes.insert(at, 1, static_cast<char>(random() & 0xFF)); break;
        }
        if (bytes.empty()) bytes = "N";
      }
      auto code = ReadCodeObject(bytes);
      if (!code.ok()) continue;
      ++parsed;
      auto dis = Disassemble(**code);
      if (!dis.ok()) continue;
      (void)FormatListing(**code, *dis);
      auto function = Decompile(**code, *dis);
      if (function.ok()) (void)FunctionSource(*function);
    }
  }
  EXPECT_GT(parsed, 0);
}

TEST(MarshalTest, ReprOfConstants) {
  EXPECT_EQ(Repr(*Read("g" + F64(1e-7))), "1e-07");
  EXPECT_EQ(Repr(*Read("g" + F64(255.0))), "255.0");
  EXPECT_EQ(Repr(*Read(SmallTuple({"i" + I32(1)}))), "(1,)");
  EXPECT_EQ(Repr(*Read(SmallTuple({ShortStr("a"), "N"}))), "('a', None)");
  EXPECT_EQ(Repr(*Read("{" + ShortStr("k") + "T0")), "{'k': True}");
  EXPECT_EQ(Repr(*Read(Bytes("ab"))), "b'ab'");
}

TEST(LambdaCodeBytesTest, Base64AsPythonDecodesIt) {
  EXPECT_EQ(*layers::LambdaCodeBytes(Json("YWJj")), "abc");
  EXPECT_EQ(*layers::LambdaCodeBytes(Json("YWI=")), "ab");
  EXPECT_EQ(*layers::LambdaCodeBytes(Json("YQ==\n")), "a");
  // Line breaks (Keras's codecs.encode adds them) and stray characters are skipped.
  EXPECT_EQ(*layers::LambdaCodeBytes(Json("YW\nJj")), "abc");
}

// Keras 1 stored the marshalled bytes as text (each byte one code point):
// the corpus files' strings, read back, give the same bytes Python's own
// raw_unicode_escape encoding gives.
TEST(LambdaCodeBytesTest, Keras1TextFromCorpusFiles) {
  int found = 0;
  for (const auto& fixture : fixtures::kCorpus) {
    if (std::string(fixture.json_text).empty()) continue;
    SCOPED_TRACE(fixture.file);
    ++found;
    auto text = ParseJson(fixture.json_text);
    ASSERT_TRUE(text.ok()) << text.error().message();
    auto bytes = layers::LambdaCodeBytes(*text);
    ASSERT_TRUE(bytes.ok()) << bytes.error().message();
    EXPECT_EQ(*bytes, testing::Unbase64(fixture.base64));
  }
  EXPECT_EQ(found, 2);
}

TEST(LambdaCodeBytesTest, OtherTextIsRawUnicodeEscape) {
  // Non-ASCII text is Keras 1's form: each code point below 256 is one byte.
  EXPECT_EQ(*layers::LambdaCodeBytes(Json("\xc3\xa3\x01")), "\xe3\x01");
  EXPECT_EQ(*layers::LambdaCodeBytes(Json("\xc4\x80")), "\\u0100");
  // ASCII that is not valid base64 (an incomplete last group) is kept as it is.
  EXPECT_EQ(*layers::LambdaCodeBytes(Json("abcde")), "abcde");
  EXPECT_FALSE(layers::LambdaCodeBytes(Json(3)).ok());
}

}  // namespace
}  // namespace k2t::pyexpr
