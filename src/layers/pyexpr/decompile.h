//===- layers/pyexpr/decompile.h - Straight-line bytecode to an expression -===//
//
// Runs a function's instructions on a stack of symbols instead of values:
// LOAD_FAST pushes the parameter, BINARY_ADD pops two symbols and pushes
// their sum, CALL pops a callee and its arguments and pushes the call. What
// remains at RETURN_VALUE is the function as one expression tree.
//
// Only straight-line code is accepted: no jump of any kind (so no loop,
// branch, conditional expression, `and`/`or`, comprehension or exception
// handler), no nested function, no store other than to a local variable, no
// import. Local variables are substituted where they are read, so
//
//   def distance(vects):
//       x, y = vects
//       return K.sqrt(K.sum(K.square(x - y), axis=1, keepdims=True))
//
// becomes one expression over vects[0] and vects[1]. Whatever names the
// expression uses (globals such as K or tf, their attributes) are kept as
// names; deciding what they mean is the translator's job.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "layers/pyexpr/bytecode.h"
#include "layers/pyexpr/marshal.h"
#include "support/error.h"

namespace k2t::pyexpr {

enum class ExprKind : std::uint8_t {
  kParam,      // a parameter of the function: `index`, `name`
  kFree,       // a closure variable: `index` into freevars, `name`
  kConst,      // `constant`
  kGlobal,     // `name`
  kAttr,       // operands[0].name
  kCall,       // operands[0](operands[1:]); the last keywords.size() are keyword arguments
  kBinary,     // operands[0] <binary> operands[1]
  kUnary,      // <unary> operands[0]
  kSubscript,  // operands[0][operands[1]]
  kSlice,      // operands = start, stop, step (each possibly a None constant)
  kTuple,
  kList,
  kUnpack,     // item `index` of operands[0] unpacked into `count` names
};

enum class UnaryOp : std::uint8_t { kNegative, kPositive, kNot, kInvert };

struct Expr {
  ExprKind kind = ExprKind::kConst;
  int index = 0;
  int count = 0;
  std::string name;
  BinaryOp binary = BinaryOp::kAdd;
  UnaryOp unary = UnaryOp::kNegative;
  PyRef constant;
  std::vector<std::shared_ptr<const Expr>> operands;
  std::vector<std::string> keywords;
  // Nodes in the tree, shared sub-trees counted each time they appear, and
  // the longest path to a leaf: both bound every later walk over the tree.
  std::size_t size = 1;
  int depth = 1;
};
using ExprPtr = std::shared_ptr<const Expr>;

struct Function {
  std::string name;                 // "<lambda>" or the def's name
  std::vector<std::string> params;  // positional parameters, then keyword-only ones
  int positional = 0;
  std::vector<std::string> freevars;
  ExprPtr body;
  PythonVersions versions;
};

struct DecompileLimits {
  std::size_t max_nodes = 20000;  // expression nodes, shared ones counted each time
  int max_depth = 500;             // operators nested in operators
};

// Decompiles the function whose code is `code`, already disassembled.
Expected<Function> Decompile(const CodeObject& code, const Disassembly& disassembly,
                             const DecompileLimits& limits = {});

// The expression as Python source, e.g. "K.mean(x, axis=1)". Text from the
// file (names, strings) is made printable, not escaped for any other use.
std::string ExprSource(const Expr& expr, std::size_t max_length = 400);

// "lambda x: x / 255.0 - 0.5" or "def distance(vects): return ...".
std::string FunctionSource(const Function& function, std::size_t max_length = 400);

}  // namespace k2t::pyexpr
