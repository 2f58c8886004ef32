#include "layers/pyexpr/bytecode.h"

#include <gtest/gtest.h>

#include "pyexpr_test_util.h"

namespace k2t::pyexpr {
namespace {

// A code object of the given layout around hand-assembled bytecode.
CodeObject Code(CodeLayout layout, std::string bytecode, std::vector<PyRef> consts = {},
                std::vector<std::string> names = {}) {
  CodeObject code;
  code.layout = layout;
  code.argcount = 1;
  code.code = std::move(bytecode);
  code.consts = std::move(consts);
  code.names = std::move(names);
  code.varnames = {"x"};
  code.localsplusnames = {"x"};
  code.localspluskinds = std::string(1, '\x26');
  code.name = "<lambda>";
  return code;
}

PyRef Int(std::int64_t v) {
  PyObject object;
  object.type = PyType::kInt;
  object.integer = v;
  return std::make_shared<const PyObject>(object);
}

int MinorOf(const char* python) { return std::stoi(std::string(python).substr(2)); }

TEST(BytecodeTest, EveryFixtureDecodesUnderItsOwnVersion) {
  for (const auto& fixture : fixtures::kCompiled) {
    SCOPED_TRACE(std::string(fixture.python) + " " + fixture.name);
    const auto decoded = testing::Decode(fixture.base64);
    ASSERT_TRUE(decoded.code);
    const auto& minors = decoded.disassembly.versions.minors;
    EXPECT_NE(std::find(minors.begin(), minors.end(), MinorOf(fixture.python)), minors.end())
        << decoded.disassembly.versions.Describe();
  }
}

TEST(BytecodeTest, VersionsNarrowedByWhatTheCodeUses) {
  auto versions = [](const char* python, const char* name) {
    const auto* fixture = testing::FindCompiled(python, name);
    EXPECT_NE(fixture, nullptr) << python << " " << name;
    return fixture ? testing::Decode(fixture->base64).disassembly.versions.Describe() : "";
  };
  // Arithmetic alone reads the same in neighbouring versions.
  EXPECT_EQ(versions("3.6", "scale"), "Python 3.6-3.7");
  EXPECT_EQ(versions("3.8", "scale"), "Python 3.8-3.10");
  EXPECT_EQ(versions("3.11", "scale"), "Python 3.11-3.12");
  // LOAD_METHOD appeared in 3.7; LOAD_GLOBAL's cache entries differ in 3.11 and 3.12.
  EXPECT_EQ(versions("3.7", "expand_dims"), "Python 3.7");
  EXPECT_EQ(versions("3.11", "expand_dims"), "Python 3.11");
  EXPECT_EQ(versions("3.12", "expand_dims"), "Python 3.12");
  EXPECT_EQ(versions("3.13", "expand_dims"), "Python 3.13");
  // LIST_EXTEND builds constant lists from 3.9.
  EXPECT_EQ(versions("3.9", "closure"), "Python 3.8-3.10");
}

TEST(BytecodeTest, CorpusFilesVersions) {
  auto versions = [](const char* prefix) {
    const auto* fixture = testing::FindCorpus(prefix);
    EXPECT_NE(fixture, nullptr) << prefix;
    return fixture ? testing::Decode(fixture->base64).disassembly.versions.Describe() : "";
  };
  EXPECT_EQ(versions("1560800__"), "Python 3.4-3.5");
  EXPECT_EQ(versions("iamfaisalkhan__"), "Python 3.4-3.5");
  EXPECT_EQ(versions("datlife__"), "Python 3.4-3.5");
  EXPECT_EQ(versions("UMT-"), "Python 3.6-3.7");
  EXPECT_EQ(versions("Ayush-Mi__"), "Python 3.8-3.10");
  EXPECT_EQ(versions("halimelsaputra__"), "Python 3.12");
}

TEST(BytecodeTest, VariableLengthInstructionsOf35) {
  // LOAD_FAST 0; EXTENDED_ARG 1; LOAD_CONST 2 (argument 0x10002); BINARY_ADD; RETURN_VALUE.
  const std::string bytes("\x7c\x00\x00\x90\x01\x00\x64\x02\x00\x17\x53", 11);
  auto dis = Disassemble(Code(CodeLayout::kPy30To37, bytes));
  ASSERT_TRUE(dis.ok()) << dis.error().message();
  EXPECT_EQ(dis->versions.Describe(), "Python 3.4-3.5");
  ASSERT_EQ(dis->instructions.size(), 5u);
  EXPECT_EQ(std::string(dis->instructions[2].name), "LOAD_CONST");
  EXPECT_EQ(dis->instructions[2].arg, 0x10002);
  EXPECT_EQ(dis->instructions[2].offset, 6);
  EXPECT_EQ(dis->instructions[3].op, Op::kBinary);
  EXPECT_EQ(dis->instructions[3].binary, BinaryOp::kAdd);
}

TEST(BytecodeTest, ExtendedArgInWordcode) {
  // 3.8: LOAD_FAST 0; EXTENDED_ARG 1; LOAD_CONST 2 (argument 258); BINARY_ADD; RETURN_VALUE.
  const std::string bytes("\x7c\x00\x90\x01\x64\x02\x17\x00\x53\x00", 10);
  auto dis = Disassemble(Code(CodeLayout::kPy38To310, bytes));
  ASSERT_TRUE(dis.ok()) << dis.error().message();
  EXPECT_EQ(dis->instructions[2].arg, 258);
  // The fixture with 260 constants needs it in every wordcode version.
  for (const auto& version : testing::FixtureVersions()) {
    const auto* fixture = testing::FindCompiled(version, "many_constants");
    ASSERT_NE(fixture, nullptr);
    const auto decoded = testing::Decode(fixture->base64);
    bool large = false;
    for (const auto& ins : decoded.disassembly.instructions) {
      large = large || (ins.op == Op::kLoadConst && ins.arg >= 256);
    }
    EXPECT_TRUE(large) << version;
  }
}

TEST(BytecodeTest, CacheEntriesAreChecked) {
  // 3.12: RESUME; LOAD_GLOBAL 0 with four cache words; RETURN_VALUE.
  std::string bytes("\x97\x00\x74\x00", 4);
  bytes += std::string(8, '\0');
  bytes += std::string("\x53\x00", 2);
  auto dis = Disassemble(Code(CodeLayout::kPy311Plus, bytes, {}, {"K"}));
  ASSERT_TRUE(dis.ok()) << dis.error().message();
  EXPECT_EQ(dis->versions.Describe(), "Python 3.12");
  EXPECT_EQ(dis->instructions.size(), 3u);
  // One cache word short for any version.
  std::string short_bytes("\x97\x00\x74\x00", 4);
  short_bytes += std::string(2, '\0');
  short_bytes += std::string("\x53\x00", 2);
  auto bad = Disassemble(Code(CodeLayout::kPy311Plus, short_bytes, {}, {"K"}));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("is not valid for any Python version"), std::string::npos);
}

TEST(BytecodeTest, UnknownOpcodesAndStrayArgumentsAreErrors) {
  auto dis = Disassemble(Code(CodeLayout::kPy38To310, std::string("\xff\x00", 2)));
  ASSERT_FALSE(dis.ok());
  EXPECT_EQ(dis.error().message(),
            "the bytecode is not valid for any Python version it could come from: opcode 255 at "
            "offset 0 does not exist in Python 3.10");
  // RETURN_VALUE takes no argument.
  EXPECT_FALSE(Disassemble(Code(CodeLayout::kPy38To310, std::string("\x53\x01", 2))).ok());
  EXPECT_FALSE(Disassemble(Code(CodeLayout::kPy38To310, std::string("\x53", 1))).ok());
  EXPECT_FALSE(Disassemble(Code(CodeLayout::kPy38To310, "")).ok());
}

TEST(BytecodeTest, ListingResolvesArguments) {
  const auto* fixture = testing::FindCompiled("3.11", "mean_keepdims");
  ASSERT_NE(fixture, nullptr);
  const auto decoded = testing::Decode(fixture->base64);
  const std::string listing = FormatListing(*decoded.code, decoded.disassembly);
  // 3.11 loads the module with LOAD_GLOBAL and the function with LOAD_METHOD.
  EXPECT_NE(listing.find("LOAD_GLOBAL             0 (K)"), std::string::npos) << listing;
  EXPECT_NE(listing.find("LOAD_METHOD             1 (mean)"), std::string::npos) << listing;
  EXPECT_NE(listing.find("KW_NAMES"), std::string::npos);
  EXPECT_NE(listing.find("(('axis', 'keepdims'))"), std::string::npos);
  EXPECT_EQ(listing.find("CACHE"), std::string::npos);
}

TEST(BytecodeTest, ListingIsBounded) {
  const auto* fixture = testing::FindCompiled("3.10", "many_constants");
  ASSERT_NE(fixture, nullptr);
  const auto decoded = testing::Decode(fixture->base64);
  const std::string listing = FormatListing(*decoded.code, decoded.disassembly, 10);
  EXPECT_NE(listing.find("more instruction(s)"), std::string::npos);
  EXPECT_LE(std::count(listing.begin(), listing.end(), '\n'), 10);
}

TEST(BytecodeTest, BinaryOpArgumentsOf311) {
  // RESUME; LOAD_FAST 0; LOAD_CONST 0; BINARY_OP 11 (/) and its cache; RETURN_VALUE.
  const std::string bytes("\x97\x00\x7c\x00\x64\x00\x7a\x0b\x00\x00\x53\x00", 12);
  auto dis = Disassemble(Code(CodeLayout::kPy311Plus, bytes, {Int(2)}));
  ASSERT_TRUE(dis.ok()) << dis.error().message();
  EXPECT_EQ(dis->instructions[3].op, Op::kBinaryOp);
  EXPECT_EQ(dis->instructions[3].arg, 11);
  EXPECT_NE(FormatListing(Code(CodeLayout::kPy311Plus, bytes, {Int(2)}), *dis).find("(/)"),
            std::string::npos);
}

}  // namespace
}  // namespace k2t::pyexpr
