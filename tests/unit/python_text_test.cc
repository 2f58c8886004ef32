#include "support/python_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

#include "test_util.h"

namespace k2t {
namespace {

bool IsAsciiIdentifier(const std::string& name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_';
    if (!ok) return false;
  }
  return true;
}

TEST(PythonIdentifierTest, PlainNamesAreKept) {
  EXPECT_EQ(PythonIdentifier("dense"), "dense");
  EXPECT_EQ(PythonIdentifier("conv2d_1"), "conv2d_1");
  EXPECT_EQ(PythonIdentifier("BatchNorm"), "BatchNorm");
}

TEST(PythonIdentifierTest, KeywordsGetAnUnderscore) {
  EXPECT_EQ(PythonIdentifier("class"), "class_");
  EXPECT_EQ(PythonIdentifier("def"), "def_");
  EXPECT_EQ(PythonIdentifier("lambda"), "lambda_");
  EXPECT_EQ(PythonIdentifier("None"), "None_");
  EXPECT_EQ(PythonIdentifier("match"), "match_");
  EXPECT_EQ(PythonIdentifier("type"), "type_");
}

TEST(PythonIdentifierTest, NamesTheGeneratedCodeUsesGetAnUnderscore) {
  for (const char* name : {"self", "torch", "nn", "F", "Path", "load_file", "super", "x"}) {
    const std::string id = PythonIdentifier(name);
    if (std::string(name) == "x") {
      EXPECT_EQ(id, "x");  // forward's locals are made unique separately
    } else {
      EXPECT_EQ(id, std::string(name) + "_") << name;
    }
  }
}

// A layer named after a builtin would shadow it in forward, where generated code
// may call it (Keras names a layer "any" as readily as "dense").
TEST(PythonIdentifierTest, BuiltinsAreNotShadowed) {
  for (const char* name : {"any", "all", "zip", "len", "range", "NotImplementedError"}) {
    EXPECT_EQ(PythonIdentifier(name), std::string(name) + "_") << name;
  }
}

TEST(PythonIdentifierTest, ModuleAttributesAreNotShadowed) {
  // Every public attribute of torch.nn.Module (torch 2.13); a submodule named
  // like one of them would replace it on the instance.
  const char* attributes[] = {
      "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init",
      "children", "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr",
      "float", "forward", "get_buffer", "get_extra_state", "get_parameter", "get_submodule",
      "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers", "named_children",
      "named_modules", "named_parameters", "parameters", "register_backward_hook",
      "register_buffer", "register_forward_hook", "register_forward_pre_hook",
      "register_full_backward_hook", "register_full_backward_pre_hook",
      "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
      "register_module", "register_parameter", "register_state_dict_post_hook",
      "register_state_dict_pre_hook", "requires_grad_", "set_extra_state", "set_submodule",
      "share_memory", "state_dict", "to", "to_empty", "train", "training", "type", "xpu",
      "zero_grad"};
  for (const char* attribute : attributes) {
    EXPECT_NE(PythonIdentifier(attribute), attribute) << attribute;
  }
  // Private attributes lose their leading underscores, and then their clash.
  EXPECT_EQ(PythonIdentifier("_modules"), "modules_");
  EXPECT_EQ(PythonIdentifier("__dict__"), "dict_");
  EXPECT_EQ(PythonIdentifier("_parameters"), "parameters_");
  EXPECT_EQ(PythonIdentifier("_version"), "version");
}

TEST(PythonIdentifierTest, LeadingDigitsGetThePrefix) {
  EXPECT_EQ(PythonIdentifier("1conv"), "layer_1conv");
  EXPECT_EQ(PythonIdentifier("123"), "layer_123");
  EXPECT_EQ(PythonIdentifier("9", "out"), "out_9");
}

TEST(PythonIdentifierTest, OtherCharactersBecomeOneUnderscore) {
  EXPECT_EQ(PythonIdentifier("a-b"), "a_b");
  EXPECT_EQ(PythonIdentifier("a_b"), "a_b");
  EXPECT_EQ(PythonIdentifier("model/dense:0"), "model_dense_0");
  EXPECT_EQ(PythonIdentifier("a  --  b"), "a_b");
  EXPECT_EQ(PythonIdentifier("__import__('os').system('x')"), "import_os_system_x");
  EXPECT_EQ(PythonIdentifier("\"\"\"; import os"), "import_os");
  EXPECT_EQ(PythonIdentifier("line\nbreak\\"), "line_break");
}

TEST(PythonIdentifierTest, NonAsciiAndEmptyNamesUseTheFallback) {
  EXPECT_EQ(PythonIdentifier(""), "layer");
  EXPECT_EQ(PythonIdentifier("", "out"), "out");
  EXPECT_EQ(PythonIdentifier("中文"), "layer");
  EXPECT_EQ(PythonIdentifier("é"), "layer");
  EXPECT_EQ(PythonIdentifier("café"), "caf");
  EXPECT_EQ(PythonIdentifier("___"), "layer");
  EXPECT_EQ(PythonIdentifier(std::string("\0\x01\xff", 3)), "layer");
}

TEST(PythonIdentifierTest, LongNamesAreBoundedAndStayDistinct) {
  const std::string long_a(10000, 'a');
  std::string long_b = long_a;
  long_b.back() = 'b';
  const std::string id_a = PythonIdentifier(long_a);
  const std::string id_b = PythonIdentifier(long_b);
  EXPECT_LE(id_a.size(), 60u);
  EXPECT_LE(id_b.size(), 60u);
  EXPECT_NE(id_a, id_b);
  EXPECT_TRUE(IsAsciiIdentifier(id_a));
  EXPECT_EQ(id_a.substr(0, 51), std::string(51, 'a'));
  // Deterministic: the same text gives the same name.
  EXPECT_EQ(PythonIdentifier(long_a), id_a);
  // Exactly 60 characters is not shortened.
  EXPECT_EQ(PythonIdentifier(std::string(60, 'z')), std::string(60, 'z'));
  EXPECT_EQ(PythonIdentifier(std::string(61, 'z')).size(), 60u);
}

TEST(PythonIdentifierTest, AlwaysAnAsciiIdentifier) {
  const std::string samples[] = {"", "0", "_", "-", "class", "中文", "a b", "\n", "$x",
                                 std::string(300, '9'), std::string(5000, '-') + "x"};
  for (const std::string& sample : samples) {
    EXPECT_TRUE(IsAsciiIdentifier(PythonIdentifier(sample))) << sample;
  }
}

TEST(UniqueIdentifierTest, AppendsCounters) {
  std::set<std::string> taken;
  EXPECT_EQ(UniqueIdentifier(PythonIdentifier("a-b"), taken), "a_b");
  EXPECT_EQ(UniqueIdentifier(PythonIdentifier("a_b"), taken), "a_b_2");
  EXPECT_EQ(UniqueIdentifier(PythonIdentifier("a b"), taken), "a_b_3");
  EXPECT_EQ(UniqueIdentifier("a_b_2", taken), "a_b_2_2");
  EXPECT_EQ(taken.size(), 4u);
}

TEST(PythonStringTest, AsciiEscapes) {
  EXPECT_EQ(PythonString("dense"), "\"dense\"");
  EXPECT_EQ(PythonString(""), "\"\"");
  EXPECT_EQ(PythonString("say \"hi\""), R"("say \"hi\"")");
  EXPECT_EQ(PythonString("\"\"\""), R"("\"\"\"")");
  EXPECT_EQ(PythonString("a\\b"), R"("a\\b")");
  EXPECT_EQ(PythonString("a\nb\tc\rd"), R"("a\nb\tc\x0dd")");
  EXPECT_EQ(PythonString(std::string("a\0b", 3)), R"("a\x00b")");
  EXPECT_EQ(PythonString("'"), "\"'\"");
  EXPECT_EQ(PythonString("\x7f"), R"("\x7f")");
}

TEST(PythonStringTest, NonAsciiIsEscapedByCodePoint) {
  EXPECT_EQ(PythonString("é"), R"("\u00e9")");
  EXPECT_EQ(PythonString("a\"中文"), R"("a\"\u4e2d\u6587")");
  EXPECT_EQ(PythonString("\xf0\x9f\x98\x80"), R"("\U0001f600")");
}

TEST(PythonStringTest, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(PythonString("\xff"), R"("\ufffd")");
  EXPECT_EQ(PythonString("a\xc3"), R"("a\ufffd")");
  // An overlong encoding of '/' and a UTF-16 surrogate are not UTF-8.
  EXPECT_EQ(PythonString("\xc0\xaf"), R"("\ufffd\ufffd")");
  EXPECT_EQ(PythonString("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");
}

TEST(WrappedPythonStringTest, ShortTextIsOneLiteral) {
  EXPECT_EQ(WrappedPythonString("short", 8), "\"short\"");
}

TEST(WrappedPythonStringTest, LongTextIsSplitIntoLinesThatFit) {
  const std::string text = std::string(150, 'a') + " " + std::string(150, 'b') + "中文\"\\";
  const std::string wrapped = WrappedPythonString(text, 8, 100);
  std::size_t start = 0;
  int lines = 0;
  while (start <= wrapped.size()) {
    const std::size_t end = std::min(wrapped.find('\n', start), wrapped.size());
    const std::string line = wrapped.substr(start, end - start);
    EXPECT_LE((lines == 0 ? 8 : 0) + line.size(), 100u) << line;
    ++lines;
    start = end + 1;
  }
  EXPECT_GE(lines, 4);
}

TEST(PythonStringTest, OutputIsOneAsciiLine) {
  const std::string hostile = "\"\"\"\n__import__('os').system('x')\n\\\r\x1b[2J中文";
  const std::string literal = PythonString(hostile);
  for (char c : literal) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u >= 0x20 && u < 0x7f) << literal;
  }
}

TEST(PythonFloatTest, RoundTrippingLiterals) {
  EXPECT_EQ(PythonFloat(1.0), "1.0");
  EXPECT_EQ(PythonFloat(-2.0), "-2.0");
  EXPECT_EQ(PythonFloat(0.0), "0.0");
  EXPECT_EQ(PythonFloat(-0.0), "-0.0");
  EXPECT_EQ(PythonFloat(0.1), "0.1");
  EXPECT_EQ(PythonFloat(1e-7), "1e-07");
  EXPECT_EQ(PythonFloat(1e300), "1e+300");
  EXPECT_EQ(PythonFloat(0.001), "0.001");
  EXPECT_EQ(PythonFloat(1.0000000000000002), "1.0000000000000002");
  EXPECT_EQ(PythonFloat(std::numeric_limits<double>::quiet_NaN()), "float(\"nan\")");
  EXPECT_EQ(PythonFloat(std::numeric_limits<double>::infinity()), "float(\"inf\")");
  EXPECT_EQ(PythonFloat(-std::numeric_limits<double>::infinity()), "float(\"-inf\")");
}

TEST(CommentTextTest, OneBoundedLine) {
  EXPECT_EQ(CommentText("a\nb"), "a\\nb");
  EXPECT_EQ(CommentText(std::string(500, 'x')).size(), 123u);  // 120 and "..."
  EXPECT_EQ(CommentText("中文"), "中文");
}

TEST(PythonClassNameTest, CamelCaseAndSafe) {
  EXPECT_EQ(PythonClassName("sequential"), "Sequential");
  EXPECT_EQ(PythonClassName("my-model_2"), "MyModel2");
  EXPECT_EQ(PythonClassName("1abc"), "Model1abc");
  EXPECT_EQ(PythonClassName(""), "Model");
  EXPECT_EQ(PythonClassName("中文"), "Model");
  EXPECT_EQ(PythonClassName("module"), "ModuleModel");
  EXPECT_EQ(PythonClassName("linear"), "LinearModel");
  EXPECT_EQ(PythonClassName("None"), "NoneModel");
  EXPECT_EQ(PythonClassName("class"), "Class");
  EXPECT_LE(PythonClassName(std::string(10000, 'q')).size(), 60u);
  EXPECT_TRUE(IsAsciiIdentifier(PythonClassName("__import__('os')")));
}

// Python itself is the judge of the literals: each must evaluate to the text
// it was made from, and each identifier must be a non-keyword identifier.
TEST(PythonTextRoundTripTest, PythonAgrees) {
  if (std::system("python3 -c pass >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 is not available";
  }
  const std::vector<std::string> texts = {
      "",
      "dense",
      "it's",
      "say \"hi\"",
      "\"\"\"",
      "'''",
      "a\\b\\\\",
      "\\",
      "line\nbreak\r\n",
      "tab\there",
      std::string("nul\0inside", 10),
      "\x01\x1f\x7f",
      "é",
      "中文 and ascii",
      "emoji \xf0\x9f\x98\x80",
      "__import__('os').system('x')",
      "\"); import os; (\"",
      "{braces} and %s and \\x41",
      std::string(10000, 'n'),
  };
  testing::TempDir dir;
  std::string script = "import keyword\nfailures = []\n";
  for (std::size_t i = 0; i < texts.size(); ++i) {
    std::string hex;
    for (char c : texts[i]) hex += fmt::format("{:02x}", static_cast<unsigned char>(c));
    script += fmt::format("value = {}\n", PythonString(texts[i]));
    script += fmt::format(
        "if value.encode('utf-8').hex() != '{}': failures.append('string {}')\n", hex, i);
    script += fmt::format("value = (\n        {}\n)\n", WrappedPythonString(texts[i], 8, 60));
    script += fmt::format(
        "if value.encode('utf-8').hex() != '{}': failures.append('wrapped string {}')\n", hex, i);
    const std::string id = PythonIdentifier(texts[i]);
    script += fmt::format(
        "if not '{0}'.isidentifier() or keyword.iskeyword('{0}') or "
        "keyword.issoftkeyword('{0}'): failures.append('identifier {1}')\n",
        id, i);
    script += fmt::format("assert {}.isidentifier()\n", PythonString(PythonClassName(texts[i])));
    // A docstring body stays one string whatever the text; only its
    // whitespace (line breaks and indentation) may differ.
    script += fmt::format("value = \"\"\"{}\"\"\"\n", DocstringText(texts[i], 8, 60));
    script += fmt::format(
        "if value.split() != bytes.fromhex('{}').decode('utf-8').split(): "
        "failures.append('docstring {}')\n",
        hex, i);
  }
  for (double number : {0.1, -0.0, 1e-7, 1e300, 123456789.125, 5e-324}) {
    script += fmt::format("if {} != float.fromhex('{:a}'): failures.append('float {}')\n",
                          PythonFloat(number), number, number);
  }
  script += fmt::format("import math\nassert math.isnan({})\n",
                        PythonFloat(std::numeric_limits<double>::quiet_NaN()));
  script += fmt::format("assert {} == float('-inf')\n",
                        PythonFloat(-std::numeric_limits<double>::infinity()));
  script += "print('\\n'.join(failures))\nraise SystemExit(1 if failures else 0)\n";
  const std::string path = dir.File("check.py");
  testing::WriteBytes(path, script);
  const std::string command = "python3 " + path;
  EXPECT_EQ(std::system(command.c_str()), 0) << script.substr(0, 2000);
}

}  // namespace
}  // namespace k2t
