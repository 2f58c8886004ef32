#include "layers/pyexpr/decompile.h"

#include <gtest/gtest.h>

#include <map>

#include "pyexpr_test_util.h"

namespace k2t::pyexpr {
namespace {

Expected<Function> DecompileBase64(const char* base64) {
  const auto decoded = testing::Decode(base64);
  if (!decoded.code) return MakeError("fixture does not decode");
  return Decompile(*decoded.code, decoded.disassembly);
}

// The same source from every Python version's bytecode.
TEST(DecompileTest, SameSourceFromEveryVersion) {
  const std::map<std::string, std::string> expected = {
      {"scale", "lambda x: x / 255.0 - 0.5"},
      {"slice_channel", "lambda x: x[:, :, :, 0:1]"},
      {"slice_rows", "lambda x: x[:, 1:]"},
      {"l2_normalize", "lambda x: K.l2_normalize(x, axis=1)"},
      {"expand_dims", "lambda x: tf.expand_dims(x, 1)"},
      {"mean_keepdims", "lambda x: K.mean(x, axis=1, keepdims=True)"},
      {"concatenate", "lambda x: K.concatenate([x[0], x[1]], axis=-1)"},
      {"resize", "lambda x: tf.image.resize(x, (8, 8))"},
      {"default_arg", "lambda x, scale: x * scale"},
      {"closure", "lambda x: x[..., :n]"},
      {"locals",
       "def f(vects): return K.sqrt(K.maximum(K.sum(K.square(vects[0] - vects[1]), axis=1, "
       "keepdims=True), K.epsilon()))"},
      {"precedence", "lambda x: -x ** 2 + (x - 1) * 3 / -(2 - x)"},
      {"split", "lambda x: tf.split(x, 2, axis=-1)"},
      {"keyword_only", "lambda x, k: x * k"},
      {"unknown_global", "lambda x: my_helper(x)"},
      {"reverse", "lambda x: x[:, ::-1]"},
      {"simple_slice", "lambda x: x[0:2]"},
      {"shape_arithmetic",
       "lambda x: K.reshape(x, (K.shape(x)[0], x.shape[1] * x.shape[2], -1))"},
  };
  for (const auto& fixture : fixtures::kCompiled) {
    const auto it = expected.find(fixture.name);
    if (it == expected.end()) continue;
    SCOPED_TRACE(std::string(fixture.python) + " " + fixture.name);
    auto function = DecompileBase64(fixture.base64);
    ASSERT_TRUE(function.ok()) << function.error().message();
    EXPECT_EQ(FunctionSource(*function), it->second);
  }
}

TEST(DecompileTest, LoopsAndBranchesAreRefused) {
  for (const auto& fixture : fixtures::kCompiled) {
    const std::string name = fixture.name;
    if (name != "loop" && name != "conditional") continue;
    SCOPED_TRACE(std::string(fixture.python) + " " + name);
    auto function = DecompileBase64(fixture.base64);
    ASSERT_FALSE(function.ok());
    EXPECT_NE(function.error().message().find("is not translated"), std::string::npos)
        << function.error().message();
  }
}

TEST(DecompileTest, MessagesNameTheInstruction) {
  const auto* loop = testing::FindCompiled("3.11", "loop");
  ASSERT_NE(loop, nullptr);
  auto function = DecompileBase64(loop->base64);
  ASSERT_FALSE(function.ok());
  EXPECT_EQ(function.error().message(),
            "instruction GET_ITER at offset 30 (a loop) is not translated");
  const auto* conditional = testing::FindCompiled("3.8", "conditional");
  ASSERT_NE(conditional, nullptr);
  function = DecompileBase64(conditional->base64);
  ASSERT_FALSE(function.ok());
  EXPECT_EQ(function.error().message(),
            "instruction COMPARE_OP at offset 4 (a comparison) is not translated");
}

TEST(DecompileTest, CorpusFunctions) {
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"1560800__", "lambda x: x / 127.5 - 1.0"},
      {"iamfaisalkhan__", "lambda x: x / 127.5 - 1.0"},
      {"datlife__", "lambda image: image / 255.0 - 0.5"},
      {"halimelsaputra__", "lambda x: tf.tile(x, [1, 28, 28, 1])"},
      {"Ayush-Mi__",
       "def euclidean_distance(vects): return K.sqrt(K.maximum(K.sum(K.square(vects[0] - "
       "vects[1]), axis=1, keepdims=True), K.epsilon()))"},
      {"UMT-",
       "def sampling(args): return args[0] + K.exp(0.5 * args[1]) * "
       "K.random_normal(shape=(K.shape(args[0])[0], K.int_shape(args[0])[1]))"},
  };
  for (const auto& [prefix, source] : expected) {
    SCOPED_TRACE(prefix);
    const auto* fixture = testing::FindCorpus(prefix);
    ASSERT_NE(fixture, nullptr);
    auto function = DecompileBase64(fixture->base64);
    ASSERT_TRUE(function.ok()) << function.error().message();
    EXPECT_EQ(FunctionSource(*function), source);
  }
}

// 3.5's CALL_FUNCTION packs the positional count in its low byte and the
// keyword count in the next; each keyword is pushed as its name, then its value.
TEST(DecompileTest, PackedKeywordCallOf35) {
  CodeObject code;
  code.layout = CodeLayout::kPy30To37;
  code.argcount = 1;
  code.varnames = {"x"};
  code.names = {"K", "mean"};
  code.name = "<lambda>";
  PyObject none;
  PyObject axis;
  axis.type = PyType::kStr;
  axis.text = "axis";
  PyObject one;
  one.type = PyType::kInt;
  one.integer = 1;
  code.consts = {std::make_shared<const PyObject>(none), std::make_shared<const PyObject>(axis),
                 std::make_shared<const PyObject>(one)};
  // LOAD_GLOBAL 0; LOAD_ATTR 1; LOAD_FAST 0; LOAD_CONST 1; LOAD_CONST 2;
  // CALL_FUNCTION (1 positional, 1 keyword); RETURN_VALUE.
  code.code = std::string("\x74\x00\x00\x6a\x01\x00\x7c\x00\x00\x64\x01\x00\x64\x02\x00"
                          "\x83\x01\x01\x53",
                          19);
  auto dis = Disassemble(code);
  ASSERT_TRUE(dis.ok()) << dis.error().message();
  EXPECT_EQ(dis->versions.Describe(), "Python 3.4-3.5");
  auto function = Decompile(code, *dis);
  ASSERT_TRUE(function.ok()) << function.error().message();
  EXPECT_EQ(FunctionSource(*function), "lambda x: K.mean(x, axis=1)");
}

TEST(DecompileTest, SharedSubexpressionsAreBounded) {
  // 3.8: LOAD_FAST 0, then 30 times DUP_TOP; BINARY_ADD (x doubles each time).
  CodeObject code;
  code.layout = CodeLayout::kPy38To310;
  code.argcount = 1;
  code.varnames = {"x"};
  code.code = std::string("\x7c\x00", 2);
  for (int i = 0; i < 30; ++i) code.code += std::string("\x04\x00\x17\x00", 4);
  code.code += std::string("\x53\x00", 2);
  auto dis = Disassemble(code);
  ASSERT_TRUE(dis.ok()) << dis.error().message();
  auto function = Decompile(code, *dis);
  ASSERT_FALSE(function.ok());
  EXPECT_EQ(function.error().message(), "the expression grows beyond 20000 nodes");
}

TEST(DecompileTest, DeepExpressionsAreBounded) {
  // 3.8: LOAD_FAST 0, then 600 times LOAD_FAST 0; BINARY_ADD folded to the right: x + (x + ...).
  CodeObject code;
  code.layout = CodeLayout::kPy38To310;
  code.argcount = 1;
  code.varnames = {"x"};
  for (int i = 0; i < 601; ++i) code.code += std::string("\x7c\x00", 2);
  for (int i = 0; i < 600; ++i) code.code += std::string("\x17\x00", 2);
  code.code += std::string("\x53\x00", 2);
  auto dis = Disassemble(code);
  ASSERT_TRUE(dis.ok()) << dis.error().message();
  auto function = Decompile(code, *dis);
  ASSERT_FALSE(function.ok());
  EXPECT_EQ(function.error().message(), "the expression nests deeper than 500 levels");
}

TEST(DecompileTest, StackUnderflowIsAnError) {
  CodeObject code;
  code.layout = CodeLayout::kPy38To310;
  code.argcount = 1;
  code.varnames = {"x"};
  code.code = std::string("\x17\x00\x53\x00", 4);  // BINARY_ADD on an empty stack
  auto dis = Disassemble(code);
  ASSERT_TRUE(dis.ok());
  auto function = Decompile(code, *dis);
  ASSERT_FALSE(function.ok());
  EXPECT_EQ(function.error().message(),
            "instruction BINARY_ADD at offset 0 pops an empty stack");
}

}  // namespace
}  // namespace k2t::pyexpr
