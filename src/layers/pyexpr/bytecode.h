//===- layers/pyexpr/bytecode.h - CPython bytecode of 3.4 to 3.13, decoded --===//
//
// Turns a code object's bytes into instructions, and works out which Python
// versions could have written them: nothing in Keras's data says so.
//
//   3.4-3.5   one byte per opcode, two more for an argument; EXTENDED_ARG
//             supplies the argument's high 16 bits
//   3.6-3.10  "wordcode": an opcode byte and an argument byte, always
//   3.11+     wordcode followed, for some opcodes, by zeroed CACHE words whose
//             number depends on the version (LOAD_GLOBAL: 5 in 3.11, 4 after)
//
// The code object's field layout narrows the versions to one family; within
// it, each version's opcode table and cache counts are tried, and every
// version under which the bytes decode cleanly (known opcodes, no argument on
// opcodes that take none, caches where and only where expected) remains a
// candidate. Where versions agree on the bytes they also agree on the meaning
// of every instruction the decompiler accepts, so the newest is used.
//
// Opcode numbers and cache counts follow each version's documented opcode
// table (the `dis` module's opmap); they are data, listed per version below.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "layers/pyexpr/marshal.h"
#include "support/error.h"

namespace k2t::pyexpr {

// What an instruction does, as far as the decompiler cares; one value per
// family of opcodes that share a stack effect.
enum class Op : std::uint8_t {
  kOther,  // anything the decompiler does not accept (loops, branches, imports, ...)
  kNop,    // NOP, RESUME, PRECALL, COPY_FREE_VARS, MAKE_CELL, EXTENDED_ARG: no stack effect
  kPopTop,
  kRotTwo,
  kRotThree,
  kDupTop,
  kDupTopTwo,
  kCopy,
  kSwap,
  kPushNull,
  kLoadFast,
  kStoreFast,
  kLoadFastLoadFast,   // 3.13: two locals, 4 bits each
  kStoreFastLoadFast,  // 3.13
  kStoreFastStoreFast, // 3.13
  kLoadConst,
  kLoadGlobal,
  kLoadDeref,
  kLoadAttr,
  kLoadMethod,
  kUnaryPositive,
  kUnaryNegative,
  kUnaryNot,
  kUnaryInvert,
  kBinary,        // BINARY_ADD ... and INPLACE_ADD ...: `binary` says which
  kBinaryOp,      // 3.11+: the operator is the argument
  kSubscript,
  kBinarySlice,   // 3.12+: container[start:stop]
  kBuildTuple,
  kBuildList,
  kBuildSlice,
  kListExtend,
  kListToTuple,
  kCallIntrinsic1,
  kCallFunction,    // 3.6-3.10: n positional arguments; 3.4-3.5: packed counts
  kCallFunctionKw,  // 3.6-3.10: a tuple of keyword names on top
  kCallMethod,
  kCall,            // 3.11+
  kCallKw,          // 3.13: a tuple of keyword names on top
  kKwNames,         // 3.11-3.12: names the next CALL's keywords
  kUnpackSequence,
  kReturnValue,
  kReturnConst,
};

enum class BinaryOp : std::uint8_t {
  kAdd, kSubtract, kMultiply, kTrueDivide, kFloorDivide, kModulo, kPower, kMatMul,
  kLShift, kRShift, kAnd, kOr, kXor,
};

// "+", "-", ... for messages and rendered source.
const char* BinaryOpSymbol(BinaryOp op);

struct Instruction {
  int offset = 0;  // in bytes from the start of the code
  int opcode = 0;
  const char* name = "";
  Op op = Op::kOther;
  BinaryOp binary = BinaryOp::kAdd;  // for kBinary
  std::int64_t arg = 0;              // EXTENDED_ARG already folded in
  bool has_arg = false;
};

// The Python 3 minor versions that decode the bytes cleanly.
struct PythonVersions {
  std::vector<int> minors;  // ascending
  int newest() const { return minors.empty() ? 0 : minors.back(); }
  // "Python 3.8-3.10", "Python 3.12"
  std::string Describe() const;
};

struct Disassembly {
  PythonVersions versions;
  std::vector<Instruction> instructions;  // without CACHE words
};

Expected<Disassembly> Disassemble(const CodeObject& code);

// A dis-like listing, one instruction per line with its argument resolved
// ("LOAD_GLOBAL 0 (K)"), at most `max_lines` lines. Names and constants from
// the file are made printable but not otherwise escaped.
std::string FormatListing(const CodeObject& code, const Disassembly& disassembly,
                          std::size_t max_lines = 60);

// The name a LOAD_FAST/STORE_FAST argument refers to, or an error.
Expected<std::string> LocalName(const CodeObject& code, std::int64_t index);

}  // namespace k2t::pyexpr
