//===- layers/pyexpr/bytecode.cc - CPython bytecode of 3.4 to 3.13, decoded -===//
#include "layers/pyexpr/bytecode.h"

#include <fmt/format.h>

#include <array>
#include <map>
#include <optional>
#include <sstream>

#include "support/strings.h"

namespace k2t::pyexpr {
namespace {

// Opcode tables, "NAME=number" separated by spaces. 3.6, 3.11 and 3.13 are
// listed whole; the others as changes to a neighbour ("-N" drops opcode N).
constexpr const char* kOpcodes36 =
    "POP_TOP=1 ROT_TWO=2 ROT_THREE=3 DUP_TOP=4 DUP_TOP_TWO=5 NOP=9 UNARY_POSITIVE=10 "
    "UNARY_NEGATIVE=11 UNARY_NOT=12 UNARY_INVERT=15 BINARY_MATRIX_MULTIPLY=16 "
    "INPLACE_MATRIX_MULTIPLY=17 BINARY_POWER=19 BINARY_MULTIPLY=20 BINARY_MODULO=22 "
    "BINARY_ADD=23 BINARY_SUBTRACT=24 BINARY_SUBSCR=25 BINARY_FLOOR_DIVIDE=26 "
    "BINARY_TRUE_DIVIDE=27 INPLACE_FLOOR_DIVIDE=28 INPLACE_TRUE_DIVIDE=29 GET_AITER=50 "
    "GET_ANEXT=51 BEFORE_ASYNC_WITH=52 INPLACE_ADD=55 INPLACE_SUBTRACT=56 "
    "INPLACE_MULTIPLY=57 INPLACE_MODULO=59 STORE_SUBSCR=60 DELETE_SUBSCR=61 "
    "BINARY_LSHIFT=62 BINARY_RSHIFT=63 BINARY_AND=64 BINARY_XOR=65 BINARY_OR=66 "
    "INPLACE_POWER=67 GET_ITER=68 GET_YIELD_FROM_ITER=69 PRINT_EXPR=70 LOAD_BUILD_CLASS=71 "
    "YIELD_FROM=72 GET_AWAITABLE=73 INPLACE_LSHIFT=75 INPLACE_RSHIFT=76 INPLACE_AND=77 "
    "INPLACE_XOR=78 INPLACE_OR=79 BREAK_LOOP=80 WITH_CLEANUP_START=81 "
    "WITH_CLEANUP_FINISH=82 RETURN_VALUE=83 IMPORT_STAR=84 SETUP_ANNOTATIONS=85 "
    "YIELD_VALUE=86 POP_BLOCK=87 END_FINALLY=88 POP_EXCEPT=89 STORE_NAME=90 DELETE_NAME=91 "
    "UNPACK_SEQUENCE=92 FOR_ITER=93 UNPACK_EX=94 STORE_ATTR=95 DELETE_ATTR=96 "
    "STORE_GLOBAL=97 DELETE_GLOBAL=98 LOAD_CONST=100 LOAD_NAME=101 BUILD_TUPLE=102 "
    "BUILD_LIST=103 BUILD_SET=104 BUILD_MAP=105 LOAD_ATTR=106 COMPARE_OP=107 "
    "IMPORT_NAME=108 IMPORT_FROM=109 JUMP_FORWARD=110 JUMP_IF_FALSE_OR_POP=111 "
    "JUMP_IF_TRUE_OR_POP=112 JUMP_ABSOLUTE=113 POP_JUMP_IF_FALSE=114 POP_JUMP_IF_TRUE=115 "
    "LOAD_GLOBAL=116 CONTINUE_LOOP=119 SETUP_LOOP=120 SETUP_EXCEPT=121 SETUP_FINALLY=122 "
    "LOAD_FAST=124 STORE_FAST=125 DELETE_FAST=126 STORE_ANNOTATION=127 RAISE_VARARGS=130 "
    "CALL_FUNCTION=131 MAKE_FUNCTION=132 BUILD_SLICE=133 LOAD_CLOSURE=135 LOAD_DEREF=136 "
    "STORE_DEREF=137 DELETE_DEREF=138 CALL_FUNCTION_KW=141 CALL_FUNCTION_EX=142 "
    "SETUP_WITH=143 EXTENDED_ARG=144 LIST_APPEND=145 SET_ADD=146 MAP_ADD=147 "
    "LOAD_CLASSDEREF=148 BUILD_LIST_UNPACK=149 BUILD_MAP_UNPACK=150 "
    "BUILD_MAP_UNPACK_WITH_CALL=151 BUILD_TUPLE_UNPACK=152 BUILD_SET_UNPACK=153 "
    "SETUP_ASYNC_WITH=154 FORMAT_VALUE=155 BUILD_CONST_KEY_MAP=156 BUILD_STRING=157 "
    "BUILD_TUPLE_UNPACK_WITH_CALL=158";

// 3.5 had no annotations, f-strings or CALL_FUNCTION_EX, and still had
// MAKE_CLOSURE and the *args/**kwargs call variants.
constexpr const char* kChanges35From36 =
    "-85 -127 -155 -156 -157 -158 MAKE_CLOSURE=134 CALL_FUNCTION_VAR=140 "
    "CALL_FUNCTION_VAR_KW=142";
// 3.4 had no matrix multiply, async or unpacking generalizations.
constexpr const char* kChanges34From35 =
    "-16 -17 -50 -51 -52 -69 -73 -82 -149 -150 -151 -152 -153 -154 STORE_MAP=54 "
    "WITH_CLEANUP=81";
constexpr const char* kChanges37From36 = "-127 LOAD_METHOD=160 CALL_METHOD=161";
constexpr const char* kChanges38From37 =
    "-80 -119 -120 -121 ROT_FOUR=6 BEGIN_FINALLY=53 END_ASYNC_FOR=54 CALL_FINALLY=162 "
    "POP_FINALLY=163";
constexpr const char* kChanges39From38 =
    "-53 -81 -82 -88 -149 -150 -151 -152 -153 -158 -162 -163 RERAISE=48 WITH_EXCEPT_START=49 "
    "LOAD_ASSERTION_ERROR=74 LIST_TO_TUPLE=82 IS_OP=117 CONTAINS_OP=118 "
    "JUMP_IF_NOT_EXC_MATCH=121 LIST_EXTEND=162 SET_UPDATE=163 DICT_MERGE=164 DICT_UPDATE=165";
constexpr const char* kChanges310From39 =
    "-48 GET_LEN=30 MATCH_MAPPING=31 MATCH_SEQUENCE=32 MATCH_KEYS=33 COPY_DICT_WITHOUT_KEYS=34 "
    "ROT_N=99 RERAISE=119 GEN_START=129 MATCH_CLASS=152";

constexpr const char* kOpcodes311 =
    "POP_TOP=1 PUSH_NULL=2 NOP=9 UNARY_POSITIVE=10 UNARY_NEGATIVE=11 UNARY_NOT=12 "
    "UNARY_INVERT=15 BINARY_SUBSCR=25 GET_LEN=30 MATCH_MAPPING=31 MATCH_SEQUENCE=32 "
    "MATCH_KEYS=33 PUSH_EXC_INFO=35 CHECK_EXC_MATCH=36 CHECK_EG_MATCH=37 "
    "WITH_EXCEPT_START=49 GET_AITER=50 GET_ANEXT=51 BEFORE_ASYNC_WITH=52 BEFORE_WITH=53 "
    "END_ASYNC_FOR=54 STORE_SUBSCR=60 DELETE_SUBSCR=61 GET_ITER=68 GET_YIELD_FROM_ITER=69 "
    "PRINT_EXPR=70 LOAD_BUILD_CLASS=71 LOAD_ASSERTION_ERROR=74 RETURN_GENERATOR=75 "
    "LIST_TO_TUPLE=82 RETURN_VALUE=83 IMPORT_STAR=84 SETUP_ANNOTATIONS=85 YIELD_VALUE=86 "
    "ASYNC_GEN_WRAP=87 PREP_RERAISE_STAR=88 POP_EXCEPT=89 STORE_NAME=90 DELETE_NAME=91 "
    "UNPACK_SEQUENCE=92 FOR_ITER=93 UNPACK_EX=94 STORE_ATTR=95 DELETE_ATTR=96 "
    "STORE_GLOBAL=97 DELETE_GLOBAL=98 SWAP=99 LOAD_CONST=100 LOAD_NAME=101 BUILD_TUPLE=102 "
    "BUILD_LIST=103 BUILD_SET=104 BUILD_MAP=105 LOAD_ATTR=106 COMPARE_OP=107 "
    "IMPORT_NAME=108 IMPORT_FROM=109 JUMP_FORWARD=110 JUMP_IF_FALSE_OR_POP=111 "
    "JUMP_IF_TRUE_OR_POP=112 POP_JUMP_FORWARD_IF_FALSE=114 POP_JUMP_FORWARD_IF_TRUE=115 "
    "LOAD_GLOBAL=116 IS_OP=117 CONTAINS_OP=118 RERAISE=119 COPY=120 BINARY_OP=122 SEND=123 "
    "LOAD_FAST=124 STORE_FAST=125 DELETE_FAST=126 POP_JUMP_FORWARD_IF_NOT_NONE=128 "
    "POP_JUMP_FORWARD_IF_NONE=129 RAISE_VARARGS=130 GET_AWAITABLE=131 MAKE_FUNCTION=132 "
    "BUILD_SLICE=133 JUMP_BACKWARD_NO_INTERRUPT=134 MAKE_CELL=135 LOAD_CLOSURE=136 "
    "LOAD_DEREF=137 STORE_DEREF=138 DELETE_DEREF=139 JUMP_BACKWARD=140 CALL_FUNCTION_EX=142 "
    "EXTENDED_ARG=144 LIST_APPEND=145 SET_ADD=146 MAP_ADD=147 LOAD_CLASSDEREF=148 "
    "COPY_FREE_VARS=149 RESUME=151 MATCH_CLASS=152 FORMAT_VALUE=155 BUILD_CONST_KEY_MAP=156 "
    "BUILD_STRING=157 LOAD_METHOD=160 LIST_EXTEND=162 SET_UPDATE=163 DICT_MERGE=164 "
    "DICT_UPDATE=165 PRECALL=166 CALL=171 KW_NAMES=172 POP_JUMP_BACKWARD_IF_NOT_NONE=173 "
    "POP_JUMP_BACKWARD_IF_NONE=174 POP_JUMP_BACKWARD_IF_FALSE=175 "
    "POP_JUMP_BACKWARD_IF_TRUE=176";
// Marshalled code never holds the INSTRUMENTED_* opcodes, so they are left out.
constexpr const char* kChanges312From311 =
    "-10 -70 -82 -84 -86 -87 -88 -111 -112 -114 -115 -128 -129 -148 -160 -166 -173 -174 "
    "-175 -176 INTERPRETER_EXIT=3 END_FOR=4 END_SEND=5 RESERVED=17 BINARY_SLICE=26 "
    "STORE_SLICE=27 CLEANUP_THROW=55 LOAD_LOCALS=87 POP_JUMP_IF_FALSE=114 "
    "POP_JUMP_IF_TRUE=115 RETURN_CONST=121 LOAD_FAST_CHECK=127 POP_JUMP_IF_NOT_NONE=128 "
    "POP_JUMP_IF_NONE=129 LOAD_SUPER_ATTR=141 LOAD_FAST_AND_CLEAR=143 YIELD_VALUE=150 "
    "CALL_INTRINSIC_1=173 CALL_INTRINSIC_2=174 LOAD_FROM_DICT_OR_GLOBALS=175 "
    "LOAD_FROM_DICT_OR_DEREF=176";
constexpr const char* kOpcodes313 =
    "BEFORE_ASYNC_WITH=1 BEFORE_WITH=2 BINARY_SLICE=4 BINARY_SUBSCR=5 CHECK_EG_MATCH=6 "
    "CHECK_EXC_MATCH=7 CLEANUP_THROW=8 DELETE_SUBSCR=9 END_ASYNC_FOR=10 END_FOR=11 "
    "END_SEND=12 EXIT_INIT_CHECK=13 FORMAT_SIMPLE=14 FORMAT_WITH_SPEC=15 GET_AITER=16 "
    "RESERVED=17 GET_ANEXT=18 GET_ITER=19 GET_LEN=20 GET_YIELD_FROM_ITER=21 "
    "INTERPRETER_EXIT=22 LOAD_ASSERTION_ERROR=23 LOAD_BUILD_CLASS=24 LOAD_LOCALS=25 "
    "MAKE_FUNCTION=26 MATCH_KEYS=27 MATCH_MAPPING=28 MATCH_SEQUENCE=29 NOP=30 POP_EXCEPT=31 "
    "POP_TOP=32 PUSH_EXC_INFO=33 PUSH_NULL=34 RETURN_GENERATOR=35 RETURN_VALUE=36 "
    "SETUP_ANNOTATIONS=37 STORE_SLICE=38 STORE_SUBSCR=39 TO_BOOL=40 UNARY_INVERT=41 "
    "UNARY_NEGATIVE=42 UNARY_NOT=43 WITH_EXCEPT_START=44 BINARY_OP=45 "
    "BUILD_CONST_KEY_MAP=46 BUILD_LIST=47 BUILD_MAP=48 BUILD_SET=49 BUILD_SLICE=50 "
    "BUILD_STRING=51 BUILD_TUPLE=52 CALL=53 CALL_FUNCTION_EX=54 CALL_INTRINSIC_1=55 "
    "CALL_INTRINSIC_2=56 CALL_KW=57 COMPARE_OP=58 CONTAINS_OP=59 CONVERT_VALUE=60 COPY=61 "
    "COPY_FREE_VARS=62 DELETE_ATTR=63 DELETE_DEREF=64 DELETE_FAST=65 DELETE_GLOBAL=66 "
    "DELETE_NAME=67 DICT_MERGE=68 DICT_UPDATE=69 ENTER_EXECUTOR=70 EXTENDED_ARG=71 "
    "FOR_ITER=72 GET_AWAITABLE=73 IMPORT_FROM=74 IMPORT_NAME=75 IS_OP=76 JUMP_BACKWARD=77 "
    "JUMP_BACKWARD_NO_INTERRUPT=78 JUMP_FORWARD=79 LIST_APPEND=80 LIST_EXTEND=81 "
    "LOAD_ATTR=82 LOAD_CONST=83 LOAD_DEREF=84 LOAD_FAST=85 LOAD_FAST_AND_CLEAR=86 "
    "LOAD_FAST_CHECK=87 LOAD_FAST_LOAD_FAST=88 LOAD_FROM_DICT_OR_DEREF=89 "
    "LOAD_FROM_DICT_OR_GLOBALS=90 LOAD_GLOBAL=91 LOAD_NAME=92 LOAD_SUPER_ATTR=93 "
    "MAKE_CELL=94 MAP_ADD=95 MATCH_CLASS=96 POP_JUMP_IF_FALSE=97 POP_JUMP_IF_NONE=98 "
    "POP_JUMP_IF_NOT_NONE=99 POP_JUMP_IF_TRUE=100 RAISE_VARARGS=101 RERAISE=102 "
    "RETURN_CONST=103 SEND=104 SET_ADD=105 SET_FUNCTION_ATTRIBUTE=106 SET_UPDATE=107 "
    "STORE_ATTR=108 STORE_DEREF=109 STORE_FAST=110 STORE_FAST_LOAD_FAST=111 "
    "STORE_FAST_STORE_FAST=112 STORE_GLOBAL=113 STORE_NAME=114 SWAP=115 UNPACK_EX=116 "
    "UNPACK_SEQUENCE=117 YIELD_VALUE=118 RESUME=149";

// CACHE words after each instruction, 3.11 onwards.
constexpr const char* kCaches311 =
    "LOAD_GLOBAL=5 BINARY_OP=1 UNPACK_SEQUENCE=1 COMPARE_OP=2 BINARY_SUBSCR=4 LOAD_ATTR=4 "
    "STORE_ATTR=4 LOAD_METHOD=10 CALL=4 PRECALL=1 STORE_SUBSCR=1";
constexpr const char* kCaches312 =
    "LOAD_GLOBAL=4 BINARY_OP=1 UNPACK_SEQUENCE=1 COMPARE_OP=1 BINARY_SUBSCR=1 FOR_ITER=1 "
    "LOAD_SUPER_ATTR=1 LOAD_ATTR=9 STORE_ATTR=4 CALL=3 STORE_SUBSCR=1 SEND=1";
constexpr const char* kCaches313 =
    "LOAD_GLOBAL=4 BINARY_OP=1 UNPACK_SEQUENCE=1 COMPARE_OP=1 CONTAINS_OP=1 BINARY_SUBSCR=1 "
    "FOR_ITER=1 LOAD_SUPER_ATTR=1 LOAD_ATTR=9 STORE_ATTR=4 CALL=3 STORE_SUBSCR=1 SEND=1 "
    "JUMP_BACKWARD=1 TO_BOOL=3 POP_JUMP_IF_TRUE=1 POP_JUMP_IF_FALSE=1 POP_JUMP_IF_NONE=1 "
    "POP_JUMP_IF_NOT_NONE=1";

struct OpcodeTable {
  int minor = 0;
  bool wordcode = true;
  int have_argument = 90;
  int extended_arg = 144;
  std::array<std::string, 256> names;
  std::array<std::uint8_t, 256> caches{};
};

// Applies "NAME=N" and "-N" entries to `names`.
void Apply(const char* changes, std::array<std::string, 256>& names) {
  std::istringstream in(changes);
  std::string entry;
  while (in >> entry) {
    if (entry[0] == '-') {
      names[static_cast<std::size_t>(std::stoi(entry.substr(1)))].clear();
      continue;
    }
    const auto eq = entry.find('=');
    names[static_cast<std::size_t>(std::stoi(entry.substr(eq + 1)))] = entry.substr(0, eq);
  }
}

void ApplyCaches(const char* caches, OpcodeTable& table) {
  std::istringstream in(caches);
  std::string entry;
  while (in >> entry) {
    const auto eq = entry.find('=');
    const std::string name = entry.substr(0, eq);
    for (std::size_t op = 0; op < 256; ++op) {
      if (table.names[op] == name) table.caches[op] = static_cast<std::uint8_t>(std::stoi(entry.substr(eq + 1)));
    }
  }
}

// Every version's table, by minor version (4 to 13).
const std::map<int, OpcodeTable>& Tables() {
  static const std::map<int, OpcodeTable> tables = [] {
    std::map<int, OpcodeTable> out;
    auto add = [&out](int minor, const std::array<std::string, 256>& names) -> OpcodeTable& {
      OpcodeTable& table = out[minor];
      table.minor = minor;
      table.names = names;
      table.wordcode = minor >= 6;
      return table;
    };
    std::array<std::string, 256> names{};
    Apply(kOpcodes36, names);
    add(6, names);
    std::array<std::string, 256> older = names;
    Apply(kChanges35From36, older);
    add(5, older);
    Apply(kChanges34From35, older);
    add(4, older);
    for (const auto& [minor, changes] :
         std::vector<std::pair<int, const char*>>{{7, kChanges37From36},
                                                  {8, kChanges38From37},
                                                  {9, kChanges39From38},
                                                  {10, kChanges310From39}}) {
      Apply(changes, names);
      add(minor, names);
    }
    std::array<std::string, 256> modern{};
    Apply(kOpcodes311, modern);
    ApplyCaches(kCaches311, add(11, modern));
    Apply(kChanges312From311, modern);
    ApplyCaches(kCaches312, add(12, modern));
    std::array<std::string, 256> latest{};
    Apply(kOpcodes313, latest);
    OpcodeTable& t313 = add(13, latest);
    t313.have_argument = 44;
    t313.extended_arg = 71;
    ApplyCaches(kCaches313, t313);
    return out;
  }();
  return tables;
}

struct Meaning {
  Op op;
  BinaryOp binary = BinaryOp::kAdd;
};

// What each opcode name means to the decompiler. Names missing here are kOther.
const std::map<std::string, Meaning>& Meanings() {
  static const std::map<std::string, Meaning> meanings = [] {
    std::map<std::string, Meaning> m = {
        {"NOP", {Op::kNop}},
        {"RESUME", {Op::kNop}},
        {"PRECALL", {Op::kNop}},
        {"COPY_FREE_VARS", {Op::kNop}},
        {"MAKE_CELL", {Op::kNop}},
        {"EXTENDED_ARG", {Op::kNop}},
        {"POP_TOP", {Op::kPopTop}},
        {"ROT_TWO", {Op::kRotTwo}},
        {"ROT_THREE", {Op::kRotThree}},
        {"DUP_TOP", {Op::kDupTop}},
        {"DUP_TOP_TWO", {Op::kDupTopTwo}},
        {"COPY", {Op::kCopy}},
        {"SWAP", {Op::kSwap}},
        {"PUSH_NULL", {Op::kPushNull}},
        {"LOAD_FAST", {Op::kLoadFast}},
        {"LOAD_FAST_CHECK", {Op::kLoadFast}},
        {"STORE_FAST", {Op::kStoreFast}},
        {"LOAD_FAST_LOAD_FAST", {Op::kLoadFastLoadFast}},
        {"STORE_FAST_LOAD_FAST", {Op::kStoreFastLoadFast}},
        {"STORE_FAST_STORE_FAST", {Op::kStoreFastStoreFast}},
        {"LOAD_CONST", {Op::kLoadConst}},
        {"LOAD_GLOBAL", {Op::kLoadGlobal}},
        {"LOAD_DEREF", {Op::kLoadDeref}},
        {"LOAD_ATTR", {Op::kLoadAttr}},
        {"LOAD_METHOD", {Op::kLoadMethod}},
        {"UNARY_POSITIVE", {Op::kUnaryPositive}},
        {"UNARY_NEGATIVE", {Op::kUnaryNegative}},
        {"UNARY_NOT", {Op::kUnaryNot}},
        {"UNARY_INVERT", {Op::kUnaryInvert}},
        {"BINARY_OP", {Op::kBinaryOp}},
        {"BINARY_SUBSCR", {Op::kSubscript}},
        {"BINARY_SLICE", {Op::kBinarySlice}},
        {"BUILD_TUPLE", {Op::kBuildTuple}},
        {"BUILD_LIST", {Op::kBuildList}},
        {"BUILD_SLICE", {Op::kBuildSlice}},
        {"LIST_EXTEND", {Op::kListExtend}},
        {"LIST_TO_TUPLE", {Op::kListToTuple}},
        {"CALL_INTRINSIC_1", {Op::kCallIntrinsic1}},
        {"CALL_FUNCTION", {Op::kCallFunction}},
        {"CALL_FUNCTION_KW", {Op::kCallFunctionKw}},
        {"CALL_METHOD", {Op::kCallMethod}},
        {"CALL", {Op::kCall}},
        {"CALL_KW", {Op::kCallKw}},
        {"KW_NAMES", {Op::kKwNames}},
        {"UNPACK_SEQUENCE", {Op::kUnpackSequence}},
        {"RETURN_VALUE", {Op::kReturnValue}},
        {"RETURN_CONST", {Op::kReturnConst}},
    };
    const std::vector<std::pair<std::string, BinaryOp>> binaries = {
        {"ADD", BinaryOp::kAdd},           {"SUBTRACT", BinaryOp::kSubtract},
        {"MULTIPLY", BinaryOp::kMultiply}, {"TRUE_DIVIDE", BinaryOp::kTrueDivide},
        {"FLOOR_DIVIDE", BinaryOp::kFloorDivide}, {"MODULO", BinaryOp::kModulo},
        {"POWER", BinaryOp::kPower},       {"MATRIX_MULTIPLY", BinaryOp::kMatMul},
        {"LSHIFT", BinaryOp::kLShift},     {"RSHIFT", BinaryOp::kRShift},
        {"AND", BinaryOp::kAnd},           {"OR", BinaryOp::kOr},
        {"XOR", BinaryOp::kXor},
    };
    // `x += y` computes the same value as `x + y` for the immutable values
    // a translatable function handles.
    for (const auto& [suffix, binary] : binaries) {
      m["BINARY_" + suffix] = {Op::kBinary, binary};
      m["INPLACE_" + suffix] = {Op::kBinary, binary};
    }
    return m;
  }();
  return meanings;
}

struct Attempt {
  std::vector<Instruction> instructions;
  std::optional<Error> error;
};

// Decodes `code` with one version's table; the error says where it stopped.
Attempt Decode(std::string_view code, const OpcodeTable& table) {
  Attempt attempt;
  auto fail = [&attempt](Error error) {
    attempt.error = std::move(error);
    return std::move(attempt);
  };
  const auto& meanings = Meanings();
  std::int64_t extended = 0;
  std::size_t i = 0;
  if (table.wordcode && code.size() % 2 != 0) {
    return fail(MakeError("wordcode of odd length {}", code.size()));
  }
  while (i < code.size()) {
    const int offset = static_cast<int>(i);
    const int opcode = static_cast<unsigned char>(code[i]);
    const std::string& name = table.names[static_cast<std::size_t>(opcode)];
    if (name.empty()) {
      return fail(MakeError("opcode {} at offset {} does not exist in Python 3.{}", opcode,
                            offset, table.minor));
    }
    Instruction instruction;
    instruction.offset = offset;
    instruction.opcode = opcode;
    instruction.name = name.c_str();
    instruction.has_arg = opcode >= table.have_argument;
    std::int64_t raw = 0;
    if (table.wordcode) {
      raw = static_cast<unsigned char>(code[i + 1]);
      i += 2;
    } else if (instruction.has_arg) {
      if (i + 3 > code.size()) return fail(MakeError("the bytecode ends inside an instruction"));
      raw = static_cast<unsigned char>(code[i + 1]) |
            (static_cast<unsigned char>(code[i + 2]) << 8);
      i += 3;
    } else {
      i += 1;
    }
    if (!instruction.has_arg && raw != 0) {
      return fail(MakeError("{} at offset {} has an argument {} it does not take", name, offset,
                            raw));
    }
    const int shift = table.wordcode ? 8 : 16;
    instruction.arg = instruction.has_arg ? (extended << shift) | raw : 0;
    if (instruction.arg > 0x7FFFFFFF) {
      return fail(MakeError("the argument at offset {} is too large", offset));
    }
    extended = opcode == table.extended_arg ? instruction.arg : 0;

    // 3.11+: the instruction's cache words, all zero in marshalled code.
    for (int c = 0; c < table.caches[static_cast<std::size_t>(opcode)]; ++c) {
      if (i + 2 > code.size() || code[i] != 0 || code[i + 1] != 0) {
        return fail(MakeError("{} at offset {} lacks its cache entries", name, offset));
      }
      i += 2;
    }
    const auto meaning = meanings.find(name);
    if (meaning != meanings.end()) {
      instruction.op = meaning->second.op;
      instruction.binary = meaning->second.binary;
    }
    attempt.instructions.push_back(instruction);
  }
  if (extended != 0) return fail(MakeError("the bytecode ends with EXTENDED_ARG"));
  if (attempt.instructions.empty()) return fail(MakeError("the bytecode is empty"));
  return attempt;
}

bool EndsWithReturn(const std::vector<Instruction>& instructions) {
  return !instructions.empty() && (instructions.back().op == Op::kReturnValue ||
                                   instructions.back().op == Op::kReturnConst);
}

std::string NameAt(const std::vector<std::string>& names, std::int64_t index) {
  if (index < 0 || static_cast<std::size_t>(index) >= names.size()) return "<bad index>";
  return PrintableText(names[static_cast<std::size_t>(index)], 60);
}

std::string DerefName(const CodeObject& code, std::int64_t index) {
  if (code.layout == CodeLayout::kPy311Plus) return NameAt(code.localsplusnames, index);
  std::vector<std::string> cells = code.cellvars;
  cells.insert(cells.end(), code.freevars.begin(), code.freevars.end());
  return NameAt(cells, index);
}

// The argument's meaning for the listing: a name, a constant, an operator.
std::string Resolve(const CodeObject& code, int minor, const Instruction& ins) {
  const std::string name = ins.name;
  const auto local = [&](std::int64_t index) {
    return NameAt(code.layout == CodeLayout::kPy311Plus ? code.localsplusnames : code.varnames,
                  index);
  };
  if (ins.op == Op::kLoadConst || ins.op == Op::kReturnConst || ins.op == Op::kKwNames) {
    if (ins.arg < 0 || static_cast<std::size_t>(ins.arg) >= code.consts.size()) {
      return "<bad index>";
    }
    return Repr(*code.consts[static_cast<std::size_t>(ins.arg)], 60);
  }
  if (ins.op == Op::kLoadFast || ins.op == Op::kStoreFast || name == "DELETE_FAST") {
    return local(ins.arg);
  }
  if (ins.op == Op::kLoadFastLoadFast || ins.op == Op::kStoreFastLoadFast ||
      ins.op == Op::kStoreFastStoreFast) {
    return local(ins.arg >> 4) + ", " + local(ins.arg & 15);
  }
  if (ins.op == Op::kLoadGlobal && minor >= 11) {
    return (ins.arg & 1 ? "NULL + " : "") + NameAt(code.names, ins.arg >> 1);
  }
  if (ins.op == Op::kLoadAttr && minor >= 12) {
    return (ins.arg & 1 ? "method " : "") + NameAt(code.names, ins.arg >> 1);
  }
  if (ins.op == Op::kLoadGlobal || ins.op == Op::kLoadAttr || ins.op == Op::kLoadMethod ||
      name == "LOAD_NAME" || name == "STORE_NAME" || name == "STORE_ATTR" ||
      name == "STORE_GLOBAL" || name == "IMPORT_NAME" || name == "IMPORT_FROM" ||
      name == "DELETE_NAME" || name == "DELETE_ATTR" || name == "DELETE_GLOBAL") {
    return NameAt(code.names, ins.arg);
  }
  if (ins.op == Op::kLoadDeref || name == "LOAD_CLOSURE" || name == "STORE_DEREF" ||
      name == "DELETE_DEREF" || name == "MAKE_CELL" || name == "LOAD_CLASSDEREF") {
    return DerefName(code, ins.arg);
  }
  if (ins.op == Op::kBinaryOp) {
    static const char* const kSymbols[] = {"+", "&", "//", "<<", "@", "*", "%",
                                           "|", "**", ">>", "-", "/", "^"};
    if (ins.arg >= 0 && ins.arg < 13) return kSymbols[ins.arg];
    if (ins.arg >= 13 && ins.arg < 26) return std::string(kSymbols[ins.arg - 13]) + "=";
  }
  return "";
}

}  // namespace

const char* BinaryOpSymbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return "+";
    case BinaryOp::kSubtract: return "-";
    case BinaryOp::kMultiply: return "*";
    case BinaryOp::kTrueDivide: return "/";
    case BinaryOp::kFloorDivide: return "//";
    case BinaryOp::kModulo: return "%";
    case BinaryOp::kPower: return "**";
    case BinaryOp::kMatMul: return "@";
    case BinaryOp::kLShift: return "<<";
    case BinaryOp::kRShift: return ">>";
    case BinaryOp::kAnd: return "&";
    case BinaryOp::kOr: return "|";
    case BinaryOp::kXor: return "^";
  }
  return "?";
}

std::string PythonVersions::Describe() const {
  if (minors.empty()) return "Python 3";
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i < minors.size()) {
    std::size_t j = i;
    while (j + 1 < minors.size() && minors[j + 1] == minors[j] + 1) ++j;
    parts.push_back(i == j ? fmt::format("3.{}", minors[i])
                           : fmt::format("3.{}-3.{}", minors[i], minors[j]));
    i = j + 1;
  }
  return "Python " + Join(parts, ", ");
}

Expected<Disassembly> Disassemble(const CodeObject& code) {
  // Candidate versions for the code object's layout, newest first, grouped
  // by encoding: a group's versions differ only in their opcode tables.
  std::vector<std::vector<int>> groups;
  switch (code.layout) {
    case CodeLayout::kPy30To37:
      groups = {{7, 6}, {5, 4}};
      break;
    case CodeLayout::kPy38To310:
      groups = {{10, 9, 8}};
      break;
    case CodeLayout::kPy311Plus:
      groups = {{13, 12, 11}};
      break;
  }

  const auto& tables = Tables();
  std::optional<Disassembly> chosen;
  std::optional<Error> first_error;
  for (const auto& group : groups) {
    Disassembly result;
    for (int minor : group) {
      Attempt attempt = Decode(code.code, tables.at(minor));
      if (attempt.error) {
        if (!first_error) first_error = std::move(*attempt.error);
        continue;
      }
      if (result.versions.minors.empty()) result.instructions = std::move(attempt.instructions);
      result.versions.minors.insert(result.versions.minors.begin(), minor);
    }
    if (result.versions.minors.empty()) continue;
    // Two encodings can both decode short code; a function ends in a return.
    if (!chosen || (!EndsWithReturn(chosen->instructions) &&
                    EndsWithReturn(result.instructions))) {
      chosen = std::move(result);
    }
  }
  if (!chosen) {
    return MakeError("the bytecode is not valid for any Python version it could come from: {}",
                     first_error->message());
  }
  return std::move(*chosen);
}

std::string FormatListing(const CodeObject& code, const Disassembly& disassembly,
                          std::size_t max_lines) {
  std::vector<std::string> lines;
  const int minor = disassembly.versions.newest();
  for (const Instruction& ins : disassembly.instructions) {
    if (lines.size() == max_lines) {
      lines.push_back(fmt::format("... {} more instruction(s)",
                                  disassembly.instructions.size() - max_lines));
      break;
    }
    std::string line = fmt::format("{:>4} {}", ins.offset, ins.name);
    if (ins.has_arg) {
      line = fmt::format("{:<28} {}", line, ins.arg);
      const std::string meaning = Resolve(code, minor, ins);
      if (!meaning.empty()) line += " (" + meaning + ")";
    }
    lines.push_back(line);
  }
  return Join(lines, "\n");
}

Expected<std::string> LocalName(const CodeObject& code, std::int64_t index) {
  const auto& names =
      code.layout == CodeLayout::kPy311Plus ? code.localsplusnames : code.varnames;
  if (index < 0 || static_cast<std::size_t>(index) >= names.size()) {
    return MakeError("local variable index {} is out of range ({} known)", index, names.size());
  }
  return names[static_cast<std::size_t>(index)];
}

}  // namespace k2t::pyexpr
