//===- layers/pyexpr/decompile.cc - Straight-line bytecode to an expression -===//
#include "layers/pyexpr/decompile.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>

#include "support/strings.h"

namespace k2t::pyexpr {
namespace {

// What an unaccepted instruction usually means, for the message.
std::string Why(const std::string& name) {
  static const std::vector<std::pair<std::string, std::string>> reasons = {
      {"JUMP", "a branch or loop"},         {"FOR_ITER", "a loop"},
      {"GET_ITER", "a loop"},               {"SETUP_", "a block statement"},
      {"MAKE_FUNCTION", "a nested function or comprehension"},
      {"MAKE_CLOSURE", "a nested function or comprehension"},
      {"LOAD_CLOSURE", "a nested function or comprehension"},
      {"IMPORT", "an import"},              {"STORE_", "an assignment other than to a local"},
      {"DELETE_", "a del statement"},       {"COMPARE_OP", "a comparison"},
      {"IS_OP", "a comparison"},            {"CONTAINS_OP", "a comparison"},
      {"RAISE", "a raise statement"},       {"FORMAT", "string formatting"},
      {"BUILD_STRING", "string formatting"}, {"CALL_FUNCTION_EX", "a call with * or **"},
      {"CALL_FUNCTION_VAR", "a call with * or **"}, {"UNPACK_EX", "a starred assignment"},
      {"BUILD_MAP", "a dict"},              {"BUILD_CONST_KEY_MAP", "a dict"},
      {"BUILD_SET", "a set"},               {"YIELD", "a generator"},
      {"RETURN_GENERATOR", "a generator"},  {"LOAD_NAME", "module-level code"},
      {"POP_TOP", "a statement whose value is discarded"},
  };
  for (const auto& [prefix, reason] : reasons) {
    if (name.find(prefix) != std::string::npos) return " (" + reason + ")";
  }
  return "";
}

// The operator of BINARY_OP's argument (3.11+), in-place forms included.
std::optional<BinaryOp> BinaryOpOfArg(std::int64_t arg) {
  static const BinaryOp kOrder[] = {
      BinaryOp::kAdd,    BinaryOp::kAnd,      BinaryOp::kFloorDivide, BinaryOp::kLShift,
      BinaryOp::kMatMul, BinaryOp::kMultiply, BinaryOp::kModulo,      BinaryOp::kOr,
      BinaryOp::kPower,  BinaryOp::kRShift,   BinaryOp::kSubtract,    BinaryOp::kTrueDivide,
      BinaryOp::kXor,
  };
  if (arg < 0 || arg >= 26) return std::nullopt;
  return kOrder[arg % 13];
}

class Machine {
 public:
  Machine(const CodeObject& code, const Disassembly& disassembly, const DecompileLimits& limits)
      : code_(code), dis_(disassembly), limits_(limits), minor_(disassembly.versions.newest()) {}

  Expected<ExprPtr> Run() {
    for (int i = 0; i < code_.argcount + code_.kwonlyargcount; ++i) {
      K2T_ASSIGN_OR_RETURN(std::string name, LocalName(code_, i));
      Expr param;
      param.kind = ExprKind::kParam;
      param.index = i;
      param.name = name;
      locals_[i] = std::make_shared<const Expr>(std::move(param));
    }
    for (const Instruction& ins : dis_.instructions) {
      at_ = &ins;
      K2T_RETURN_IF_ERROR(Step(ins));
      if (result_) return result_;
    }
    return MakeError("the function does not end with a return statement");
  }

 private:
  Error Refuse() const {
    return MakeError("instruction {} at offset {}{} is not translated", at_->name, at_->offset,
                     Why(at_->name));
  }

  Expected<ExprPtr> Pop() {
    if (stack_.empty()) {
      return MakeError("instruction {} at offset {} pops an empty stack", at_->name, at_->offset);
    }
    ExprPtr top = stack_.back();
    stack_.pop_back();
    return top;
  }

  // Pops a value that must not be the NULL marker of the call protocol.
  Expected<ExprPtr> PopValue() {
    K2T_ASSIGN_OR_RETURN(ExprPtr top, Pop());
    if (!top) {
      return MakeError("instruction {} at offset {} uses a NULL stack entry", at_->name,
                       at_->offset);
    }
    return top;
  }

  Expected<std::vector<ExprPtr>> PopValues(std::int64_t n) {
    if (n < 0 || static_cast<std::size_t>(n) > stack_.size()) {
      return MakeError("instruction {} at offset {} pops {} values from a stack of {}",
                       at_->name, at_->offset, n, stack_.size());
    }
    std::vector<ExprPtr> values(static_cast<std::size_t>(n));
    for (std::int64_t k = n - 1; k >= 0; --k) {
      K2T_ASSIGN_OR_RETURN(values[static_cast<std::size_t>(k)], PopValue());
    }
    return values;
  }

  Status Push(ExprPtr expr) {
    if (expr && expr->size > limits_.max_nodes) {
      return MakeError("the expression grows beyond {} nodes", limits_.max_nodes);
    }
    if (expr && expr->depth > limits_.max_depth) {
      return MakeError("the expression nests deeper than {} levels", limits_.max_depth);
    }
    if (stack_.size() >= 4096) return MakeError("the stack grows beyond 4096 entries");
    stack_.push_back(std::move(expr));
    return Status::Ok();
  }

  ExprPtr Make(Expr expr) {
    for (const ExprPtr& operand : expr.operands) {
      if (operand) {
        expr.size = expr.size > SIZE_MAX - operand->size ? SIZE_MAX : expr.size + operand->size;
        expr.depth = std::max(expr.depth, operand->depth + 1);
      }
    }
    return std::make_shared<const Expr>(std::move(expr));
  }

  ExprPtr Node(ExprKind kind, std::vector<ExprPtr> operands, std::string name = "") {
    Expr expr;
    expr.kind = kind;
    expr.operands = std::move(operands);
    expr.name = std::move(name);
    return Make(std::move(expr));
  }

  Expected<PyRef> Const(std::int64_t index) const {
    if (index < 0 || static_cast<std::size_t>(index) >= code_.consts.size()) {
      return MakeError("constant index {} at offset {} is out of range", index, at_->offset);
    }
    return code_.consts[static_cast<std::size_t>(index)];
  }

  ExprPtr ConstExpr(PyRef value) {
    Expr expr;
    expr.kind = ExprKind::kConst;
    expr.size = value->size;
    expr.constant = std::move(value);
    return std::make_shared<const Expr>(std::move(expr));
  }

  Expected<std::string> Name(std::int64_t index) const {
    if (index < 0 || static_cast<std::size_t>(index) >= code_.names.size()) {
      return MakeError("name index {} at offset {} is out of range", index, at_->offset);
    }
    return code_.names[static_cast<std::size_t>(index)];
  }

  Expected<ExprPtr> LoadLocal(std::int64_t index) {
    K2T_ASSIGN_OR_RETURN(std::string name, LocalName(code_, index));
    const auto it = locals_.find(index);
    if (it == locals_.end()) {
      return MakeError("local variable '{}' is read before it is assigned",
                       PrintableText(name, 40));
    }
    return it->second;
  }

  Status StoreLocal(std::int64_t index) {
    K2T_RETURN_IF_ERROR(LocalName(code_, index));
    K2T_ASSIGN_OR_RETURN(ExprPtr value, PopValue());
    locals_[index] = std::move(value);
    return Status::Ok();
  }

  Expected<ExprPtr> LoadDeref(std::int64_t index) {
    std::string name;
    if (code_.layout == CodeLayout::kPy311Plus) {
      K2T_ASSIGN_OR_RETURN(name, LocalName(code_, index));
      const auto kind = static_cast<unsigned char>(
          code_.localspluskinds[static_cast<std::size_t>(index)]);
      if (!(kind & 0x80)) return Refuse();
    } else {
      const std::size_t cells = code_.cellvars.size();
      if (index < static_cast<std::int64_t>(cells)) return Refuse();
      const std::size_t free = static_cast<std::size_t>(index) - cells;
      if (free >= code_.freevars.size()) {
        return MakeError("closure index {} at offset {} is out of range", index, at_->offset);
      }
      name = code_.freevars[free];
    }
    Expr expr;
    expr.kind = ExprKind::kFree;
    expr.name = name;
    for (std::size_t k = 0; k < code_.freevars.size(); ++k) {
      if (code_.freevars[k] == name) expr.index = static_cast<int>(k);
    }
    return Make(std::move(expr));
  }

  // Pops `n` arguments, the last `keywords.size()` of them keyword arguments,
  // then the callee: with `two_slots`, a callee and a NULL in either order.
  Status CallWith(std::int64_t n, std::vector<std::string> keywords, bool two_slots) {
    if (keywords.size() > static_cast<std::size_t>(std::max<std::int64_t>(n, 0))) {
      return MakeError("a call at offset {} names more keywords than it has arguments",
                       at_->offset);
    }
    K2T_ASSIGN_OR_RETURN(std::vector<ExprPtr> args, PopValues(n));
    ExprPtr callee;
    if (two_slots) {
      K2T_ASSIGN_OR_RETURN(ExprPtr upper, Pop());
      K2T_ASSIGN_OR_RETURN(ExprPtr lower, Pop());
      if (upper && lower) {
        // A bound method and its self: not something this machine pushes.
        return Refuse();
      }
      callee = upper ? upper : lower;
      if (!callee) return MakeError("a call at offset {} has no callee", at_->offset);
    } else {
      K2T_ASSIGN_OR_RETURN(callee, PopValue());
    }
    args.insert(args.begin(), callee);
    Expr expr;
    expr.kind = ExprKind::kCall;
    expr.operands = std::move(args);
    expr.keywords = std::move(keywords);
    return Push(Make(std::move(expr)));
  }

  Expected<std::vector<std::string>> KeywordNames(const PyRef& names) const {
    if (names->type != PyType::kTuple) {
      return MakeError("keyword names at offset {} are not a tuple", at_->offset);
    }
    std::vector<std::string> out;
    for (const PyRef& item : names->items) {
      if (item->type != PyType::kStr) {
        return MakeError("a keyword name at offset {} is not a str", at_->offset);
      }
      out.push_back(item->text);
    }
    return out;
  }

  // Items of a tuple or list, as expressions: from a literal or a constant.
  std::optional<std::vector<ExprPtr>> ItemsOf(const ExprPtr& seq) {
    if (seq->kind == ExprKind::kTuple || seq->kind == ExprKind::kList) return seq->operands;
    if (seq->kind == ExprKind::kConst &&
        (seq->constant->type == PyType::kTuple || seq->constant->type == PyType::kList)) {
      std::vector<ExprPtr> items;
      for (const PyRef& item : seq->constant->items) items.push_back(ConstExpr(item));
      return items;
    }
    return std::nullopt;
  }

  Status Unpack(std::int64_t count) {
    K2T_ASSIGN_OR_RETURN(ExprPtr seq, PopValue());
    if (auto items = ItemsOf(seq)) {
      if (static_cast<std::int64_t>(items->size()) != count) {
        return MakeError("{} values are unpacked into {} names at offset {}", items->size(),
                         count, at_->offset);
      }
      for (auto it = items->rbegin(); it != items->rend(); ++it) K2T_RETURN_IF_ERROR(Push(*it));
      return Status::Ok();
    }
    for (std::int64_t k = count - 1; k >= 0; --k) {
      Expr expr;
      expr.kind = ExprKind::kUnpack;
      expr.index = static_cast<int>(k);
      expr.count = static_cast<int>(count);
      expr.operands = {seq};
      K2T_RETURN_IF_ERROR(Push(Make(std::move(expr))));
    }
    return Status::Ok();
  }

  Status Stack(const Instruction& ins) {
    const std::size_t depth = stack_.size();
    auto need = [&](std::size_t n) -> Status {
      if (depth < n) {
        return MakeError("instruction {} at offset {} needs {} stack entries, has {}", ins.name,
                         ins.offset, n, depth);
      }
      return Status::Ok();
    };
    switch (ins.op) {
      case Op::kPopTop:
        return Refuse();
      case Op::kRotTwo:
        K2T_RETURN_IF_ERROR(need(2));
        std::swap(stack_[depth - 1], stack_[depth - 2]);
        return Status::Ok();
      case Op::kRotThree:
        K2T_RETURN_IF_ERROR(need(3));
        std::rotate(stack_.end() - 3, stack_.end() - 1, stack_.end());
        return Status::Ok();
      case Op::kDupTop:
        K2T_RETURN_IF_ERROR(need(1));
        return Push(stack_[depth - 1]);
      case Op::kDupTopTwo:
        K2T_RETURN_IF_ERROR(need(2));
        K2T_RETURN_IF_ERROR(Push(stack_[depth - 2]));
        return Push(stack_[depth - 1]);
      case Op::kCopy:
        if (ins.arg < 1) return Refuse();
        K2T_RETURN_IF_ERROR(need(static_cast<std::size_t>(ins.arg)));
        return Push(stack_[depth - static_cast<std::size_t>(ins.arg)]);
      case Op::kSwap:
        if (ins.arg < 1) return Refuse();
        K2T_RETURN_IF_ERROR(need(static_cast<std::size_t>(ins.arg)));
        std::swap(stack_[depth - 1], stack_[depth - static_cast<std::size_t>(ins.arg)]);
        return Status::Ok();
      default:
        return Refuse();
    }
  }

  Status LoadGlobalOrAttr(const Instruction& ins) {
    const bool modern_global = ins.op == Op::kLoadGlobal && minor_ >= 11;
    const bool modern_attr = ins.op == Op::kLoadAttr && minor_ >= 12;
    const bool flagged = (modern_global || modern_attr) && (ins.arg & 1);
    K2T_ASSIGN_OR_RETURN(std::string name,
                         Name(modern_global || modern_attr ? ins.arg >> 1 : ins.arg));
    ExprPtr value;
    if (ins.op == Op::kLoadGlobal) {
      value = Node(ExprKind::kGlobal, {}, name);
    } else {
      K2T_ASSIGN_OR_RETURN(ExprPtr base, PopValue());
      value = Node(ExprKind::kAttr, {base}, name);
    }
    // The call protocol's NULL goes below the callee before 3.13, above it after.
    const bool null_first = minor_ < 13;
    const bool with_null = flagged || ins.op == Op::kLoadMethod;
    if (with_null && null_first) K2T_RETURN_IF_ERROR(Push(nullptr));
    K2T_RETURN_IF_ERROR(Push(value));
    if (with_null && !null_first) K2T_RETURN_IF_ERROR(Push(nullptr));
    return Status::Ok();
  }

  Status Step(const Instruction& ins) {
    switch (ins.op) {
      case Op::kNop:
        return Status::Ok();
      case Op::kPushNull:
        return Push(nullptr);
      case Op::kLoadFast: {
        K2T_ASSIGN_OR_RETURN(ExprPtr value, LoadLocal(ins.arg));
        return Push(value);
      }
      case Op::kStoreFast:
        return StoreLocal(ins.arg);
      case Op::kLoadFastLoadFast: {
        K2T_ASSIGN_OR_RETURN(ExprPtr first, LoadLocal(ins.arg >> 4));
        K2T_ASSIGN_OR_RETURN(ExprPtr second, LoadLocal(ins.arg & 15));
        K2T_RETURN_IF_ERROR(Push(first));
        return Push(second);
      }
      case Op::kStoreFastLoadFast: {
        K2T_RETURN_IF_ERROR(StoreLocal(ins.arg >> 4));
        K2T_ASSIGN_OR_RETURN(ExprPtr value, LoadLocal(ins.arg & 15));
        return Push(value);
      }
      case Op::kStoreFastStoreFast:
        K2T_RETURN_IF_ERROR(StoreLocal(ins.arg >> 4));
        return StoreLocal(ins.arg & 15);
      case Op::kLoadConst: {
        K2T_ASSIGN_OR_RETURN(PyRef value, Const(ins.arg));
        return Push(ConstExpr(value));
      }
      case Op::kLoadGlobal:
      case Op::kLoadAttr:
      case Op::kLoadMethod:
        return LoadGlobalOrAttr(ins);
      case Op::kLoadDeref: {
        K2T_ASSIGN_OR_RETURN(ExprPtr value, LoadDeref(ins.arg));
        return Push(value);
      }
      case Op::kUnaryPositive:
      case Op::kUnaryNegative:
      case Op::kUnaryNot:
      case Op::kUnaryInvert:
        return PushUnary(ins.op == Op::kUnaryPositive   ? UnaryOp::kPositive
                         : ins.op == Op::kUnaryNegative ? UnaryOp::kNegative
                         : ins.op == Op::kUnaryNot      ? UnaryOp::kNot
                                                        : UnaryOp::kInvert);
      case Op::kBinary:
        return PushBinary(ins.binary);
      case Op::kBinaryOp: {
        const auto op = BinaryOpOfArg(ins.arg);
        if (!op) return Refuse();
        return PushBinary(*op);
      }
      case Op::kSubscript: {
        K2T_ASSIGN_OR_RETURN(ExprPtr index, PopValue());
        K2T_ASSIGN_OR_RETURN(ExprPtr base, PopValue());
        return Push(Node(ExprKind::kSubscript, {base, index}));
      }
      case Op::kBinarySlice: {
        K2T_ASSIGN_OR_RETURN(ExprPtr stop, PopValue());
        K2T_ASSIGN_OR_RETURN(ExprPtr start, PopValue());
        K2T_ASSIGN_OR_RETURN(ExprPtr base, PopValue());
        ExprPtr none = ConstExpr(std::make_shared<const PyObject>());
        return Push(Node(ExprKind::kSubscript,
                         {base, Node(ExprKind::kSlice, {start, stop, none})}));
      }
      case Op::kBuildSlice: {
        if (ins.arg != 2 && ins.arg != 3) return Refuse();
        ExprPtr step = ConstExpr(std::make_shared<const PyObject>());
        if (ins.arg == 3) {
          K2T_ASSIGN_OR_RETURN(step, PopValue());
        }
        K2T_ASSIGN_OR_RETURN(ExprPtr stop, PopValue());
        K2T_ASSIGN_OR_RETURN(ExprPtr start, PopValue());
        return Push(Node(ExprKind::kSlice, {start, stop, step}));
      }
      case Op::kBuildTuple:
      case Op::kBuildList: {
        K2T_ASSIGN_OR_RETURN(std::vector<ExprPtr> items, PopValues(ins.arg));
        return Push(Node(ins.op == Op::kBuildTuple ? ExprKind::kTuple : ExprKind::kList, items));
      }
      case Op::kListExtend:
        return ListExtend(ins.arg);
      case Op::kListToTuple:
        return ListToTuple();
      case Op::kCallIntrinsic1:
        // 5 is unary plus, 6 a list made a tuple; the others are statements.
        if (ins.arg == 5) return PushUnary(UnaryOp::kPositive);
        if (ins.arg == 6) return ListToTuple();
        return Refuse();
      case Op::kCallFunction:
        if (minor_ <= 5) {
          return CallPacked(ins.arg);
        }
        return CallWith(ins.arg, {}, false);
      case Op::kCallFunctionKw: {
        if (minor_ <= 5) return Refuse();
        K2T_ASSIGN_OR_RETURN(ExprPtr names, PopValue());
        if (names->kind != ExprKind::kConst) return Refuse();
        K2T_ASSIGN_OR_RETURN(std::vector<std::string> keywords, KeywordNames(names->constant));
        return CallWith(ins.arg, std::move(keywords), false);
      }
      case Op::kCallMethod:
        return CallWith(ins.arg, {}, true);
      case Op::kKwNames: {
        K2T_ASSIGN_OR_RETURN(PyRef names, Const(ins.arg));
        K2T_ASSIGN_OR_RETURN(pending_keywords_, KeywordNames(names));
        return Status::Ok();
      }
      case Op::kCall: {
        std::vector<std::string> keywords = std::move(pending_keywords_);
        pending_keywords_.clear();
        return CallWith(ins.arg, std::move(keywords), true);
      }
      case Op::kCallKw: {
        K2T_ASSIGN_OR_RETURN(ExprPtr names, PopValue());
        if (names->kind != ExprKind::kConst) return Refuse();
        K2T_ASSIGN_OR_RETURN(std::vector<std::string> keywords, KeywordNames(names->constant));
        return CallWith(ins.arg, std::move(keywords), true);
      }
      case Op::kUnpackSequence:
        return Unpack(ins.arg);
      case Op::kReturnValue: {
        K2T_ASSIGN_OR_RETURN(result_, PopValue());
        return Status::Ok();
      }
      case Op::kReturnConst: {
        K2T_ASSIGN_OR_RETURN(PyRef value, Const(ins.arg));
        result_ = ConstExpr(value);
        return Status::Ok();
      }
      default:
        return Stack(ins);
    }
  }

  // 3.4-3.5: the low byte counts positional arguments, the next byte
  // keyword arguments, each pushed as its name then its value.
  Status CallPacked(std::int64_t arg) {
    const std::int64_t positional = arg & 0xFF;
    const std::int64_t keyword = (arg >> 8) & 0xFF;
    if (arg >> 16) return Refuse();
    std::vector<ExprPtr> values(static_cast<std::size_t>(keyword));
    std::vector<std::string> names(static_cast<std::size_t>(keyword));
    for (std::int64_t k = keyword - 1; k >= 0; --k) {
      K2T_ASSIGN_OR_RETURN(values[static_cast<std::size_t>(k)], PopValue());
      K2T_ASSIGN_OR_RETURN(ExprPtr name, PopValue());
      if (name->kind != ExprKind::kConst || name->constant->type != PyType::kStr) {
        return MakeError("a keyword name at offset {} is not a str", at_->offset);
      }
      names[static_cast<std::size_t>(k)] = name->constant->text;
    }
    for (ExprPtr& value : values) K2T_RETURN_IF_ERROR(Push(value));
    return CallWith(positional + keyword, std::move(names), false);
  }

  Status PushUnary(UnaryOp op) {
    K2T_ASSIGN_OR_RETURN(ExprPtr operand, PopValue());
    Expr expr;
    expr.kind = ExprKind::kUnary;
    expr.unary = op;
    expr.operands = {operand};
    return Push(Make(std::move(expr)));
  }

  Status PushBinary(BinaryOp op) {
    K2T_ASSIGN_OR_RETURN(ExprPtr right, PopValue());
    K2T_ASSIGN_OR_RETURN(ExprPtr left, PopValue());
    Expr expr;
    expr.kind = ExprKind::kBinary;
    expr.binary = op;
    expr.operands = {left, right};
    return Push(Make(std::move(expr)));
  }

  Status ListExtend(std::int64_t position) {
    K2T_ASSIGN_OR_RETURN(ExprPtr seq, PopValue());
    if (position < 1 || static_cast<std::size_t>(position) > stack_.size()) return Refuse();
    ExprPtr& list = stack_[stack_.size() - static_cast<std::size_t>(position)];
    const auto items = ItemsOf(seq);
    if (!list || list->kind != ExprKind::kList || !items) return Refuse();
    std::vector<ExprPtr> all = list->operands;
    all.insert(all.end(), items->begin(), items->end());
    ExprPtr extended = Node(ExprKind::kList, all);
    if (extended->size > limits_.max_nodes || extended->depth > limits_.max_depth) {
      return MakeError("the expression grows beyond {} nodes", limits_.max_nodes);
    }
    list = extended;
    return Status::Ok();
  }

  Status ListToTuple() {
    K2T_ASSIGN_OR_RETURN(ExprPtr list, PopValue());
    if (list->kind != ExprKind::kList) return Refuse();
    return Push(Node(ExprKind::kTuple, list->operands));
  }

  const CodeObject& code_;
  const Disassembly& dis_;
  const DecompileLimits& limits_;
  const int minor_;
  const Instruction* at_ = nullptr;
  std::vector<ExprPtr> stack_;  // nullptr is the NULL of the call protocol
  std::map<std::int64_t, ExprPtr> locals_;
  std::vector<std::string> pending_keywords_;
  ExprPtr result_;
};

// Binding strength, as in Python's grammar.
constexpr int kAtom = 16;
constexpr int kPowerLevel = 15;
constexpr int kUnaryLevel = 14;
constexpr int kNotLevel = 4;

int BinaryLevel(BinaryOp op) {
  switch (op) {
    case BinaryOp::kPower: return kPowerLevel;
    case BinaryOp::kMultiply:
    case BinaryOp::kTrueDivide:
    case BinaryOp::kFloorDivide:
    case BinaryOp::kModulo:
    case BinaryOp::kMatMul: return 13;
    case BinaryOp::kAdd:
    case BinaryOp::kSubtract: return 12;
    case BinaryOp::kLShift:
    case BinaryOp::kRShift: return 11;
    case BinaryOp::kAnd: return 10;
    case BinaryOp::kXor: return 9;
    case BinaryOp::kOr: return 8;
  }
  return 8;
}

class SourceWriter {
 public:
  explicit SourceWriter(std::size_t max_length) : max_(max_length) {}

  // The source of `expr` and its binding strength.
  std::pair<std::string, int> Write(const Expr& expr) {
    if (budget_exhausted()) return {"...", kAtom};
    switch (expr.kind) {
      case ExprKind::kParam:
      case ExprKind::kFree:
      case ExprKind::kGlobal:
        return {Use(PrintableText(expr.name, 60)), kAtom};
      case ExprKind::kConst:
        return {Use(ConstSource(*expr.constant)), kAtom};
      case ExprKind::kAttr:
        return {Operand(*expr.operands[0], kAtom) + "." + Use(PrintableText(expr.name, 60)),
                kAtom};
      case ExprKind::kCall:
        return {Call(expr), kAtom};
      case ExprKind::kBinary: {
        const int level = BinaryLevel(expr.binary);
        // `**` groups to the right and binds tighter than a unary minus on its left.
        const bool power = expr.binary == BinaryOp::kPower;
        const std::string left = Operand(*expr.operands[0], power ? level + 1 : level);
        const std::string right = Operand(*expr.operands[1], power ? kUnaryLevel : level + 1);
        return {left + " " + BinaryOpSymbol(expr.binary) + " " + right, level};
      }
      case ExprKind::kUnary: {
        if (expr.unary == UnaryOp::kNot) {
          return {"not " + Operand(*expr.operands[0], kNotLevel), kNotLevel};
        }
        const char* symbol = expr.unary == UnaryOp::kNegative   ? "-"
                             : expr.unary == UnaryOp::kPositive ? "+"
                                                                : "~";
        return {symbol + Operand(*expr.operands[0], kUnaryLevel), kUnaryLevel};
      }
      case ExprKind::kSubscript:
        return {Operand(*expr.operands[0], kAtom) + "[" + Index(*expr.operands[1]) + "]", kAtom};
      case ExprKind::kSlice:
        return {"slice(" + Items(expr.operands) + ")", kAtom};
      case ExprKind::kTuple:
        return {"(" + Items(expr.operands) + (expr.operands.size() == 1 ? ",)" : ")"), kAtom};
      case ExprKind::kList:
        return {"[" + Items(expr.operands) + "]", kAtom};
      case ExprKind::kUnpack:
        return {Operand(*expr.operands[0], kAtom) + "[" + std::to_string(expr.index) + "]",
                kAtom};
    }
    return {"?", kAtom};
  }

 private:
  bool budget_exhausted() const { return used_ > max_; }
  std::string Use(std::string text) {
    used_ += text.size();
    return text;
  }

  static std::string ConstSource(const PyObject& object) {
    if (object.type == PyType::kEllipsis) return "...";
    return Repr(object, 60);
  }

  std::string Operand(const Expr& expr, int needed) {
    auto [text, level] = Write(expr);
    return level < needed ? "(" + text + ")" : text;
  }

  std::string Items(const std::vector<ExprPtr>& items) {
    std::vector<std::string> parts;
    for (const ExprPtr& item : items) parts.push_back(Write(*item).first);
    return Join(parts, ", ");
  }

  // A subscript's index: slices as a:b:c, tuples without parentheses.
  std::string Index(const Expr& index) {
    if (index.kind == ExprKind::kSlice) return SliceText(index);
    if (index.kind == ExprKind::kTuple && !index.operands.empty()) {
      std::vector<std::string> parts;
      for (const ExprPtr& item : index.operands) {
        parts.push_back(item->kind == ExprKind::kSlice ? SliceText(*item) : Write(*item).first);
      }
      return Join(parts, ", ");
    }
    return Write(index).first;
  }

  std::string SliceText(const Expr& slice) {
    auto part = [this](const Expr& e) {
      const bool none = e.kind == ExprKind::kConst && e.constant->type == PyType::kNone;
      return none ? std::string() : Write(e).first;
    };
    std::string text = part(*slice.operands[0]) + ":" + part(*slice.operands[1]);
    const std::string step = part(*slice.operands[2]);
    if (!step.empty()) text += ":" + step;
    return text;
  }

  std::string Call(const Expr& call) {
    std::string text = Operand(*call.operands[0], kAtom) + "(";
    const std::size_t args = call.operands.size() - 1;
    const std::size_t first_keyword = args - call.keywords.size();
    std::vector<std::string> parts;
    for (std::size_t k = 0; k < args; ++k) {
      std::string arg = Write(*call.operands[k + 1]).first;
      if (k >= first_keyword) arg = PrintableText(call.keywords[k - first_keyword], 40) + "=" + arg;
      parts.push_back(arg);
    }
    return text + Join(parts, ", ") + ")";
  }

  std::size_t max_;
  std::size_t used_ = 0;
};

}  // namespace

Expected<Function> Decompile(const CodeObject& code, const Disassembly& disassembly,
                             const DecompileLimits& limits) {
  if (code.flags & (kCoGenerator | kCoCoroutine | kCoIterableCoroutine | kCoAsyncGenerator)) {
    return MakeError("the function is a generator or coroutine");
  }
  if (code.flags & (kCoVarargs | kCoVarkeywords)) {
    return MakeError("the function takes *args or **kwargs");
  }
  Function function;
  function.name = code.name;
  function.positional = code.argcount;
  for (int i = 0; i < code.argcount + code.kwonlyargcount; ++i) {
    K2T_ASSIGN_OR_RETURN(std::string name, LocalName(code, i));
    function.params.push_back(name);
  }
  function.freevars = code.freevars;
  function.versions = disassembly.versions;
  Machine machine(code, disassembly, limits);
  K2T_ASSIGN_OR_RETURN(function.body, machine.Run());
  return function;
}

std::string ExprSource(const Expr& expr, std::size_t max_length) {
  SourceWriter writer(max_length);
  std::string text = writer.Write(expr).first;
  if (text.size() > max_length) text = text.substr(0, max_length) + "...";
  return text;
}

std::string FunctionSource(const Function& function, std::size_t max_length) {
  std::vector<std::string> params;
  for (const std::string& p : function.params) params.push_back(PrintableText(p, 40));
  const std::string body = function.body ? ExprSource(*function.body, max_length) : "...";
  if (function.name == "<lambda>") return "lambda " + Join(params, ", ") + ": " + body;
  return "def " + PrintableText(function.name, 60) + "(" + Join(params, ", ") + "): return " +
         body;
}

}  // namespace k2t::pyexpr
