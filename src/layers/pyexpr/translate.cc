//===- layers/pyexpr/translate.cc - A decompiled Lambda as PyTorch code -----===//
#include "layers/pyexpr/translate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <numbers>
#include <optional>

#include "support/python_text.h"
#include "support/strings.h"

namespace k2t::pyexpr {
namespace {

// Binding strength of generated code, as in Python's grammar.
constexpr int kAtom = 16;
constexpr int kPowerLevel = 15;
constexpr int kUnaryLevel = 14;
constexpr int kProductLevel = 13;
constexpr int kSumLevel = 12;

enum class VKind {
  kTensor,
  kTensorList,  // the Lambda's list input, or what a split returns
  kInt,         // a Python int; with `code`, one known only when the model runs
  kFloat,
  kBool,
  kNone,
  kEllipsis,
  kStr,
  kSlice,   // items: start, stop, step (kInt or kNone)
  kSeq,     // a tuple, or a list when `is_list`
  kName,    // a module or function: `text` is its dotted path
  kDType,   // `text` is the torch dtype ("torch.float32")
};

struct Val {
  VKind kind = VKind::kNone;
  std::string code;  // tensors and run-time ints: the Python code computing them
  int level = kAtom;
  Shape shape;
  std::int64_t integer = 0;
  double number = 0.0;
  std::string text;
  std::vector<Val> items;
  bool is_list = false;

  bool dynamic() const { return kind == VKind::kInt && !code.empty(); }
  bool numeric() const {
    return (kind == VKind::kInt && code.empty()) || kind == VKind::kFloat ||
           kind == VKind::kBool;
  }
  double AsDouble() const { return kind == VKind::kFloat ? number : static_cast<double>(integer); }
};

Val Tensor(std::string code, Shape shape, int level = kAtom) {
  Val v;
  v.kind = VKind::kTensor;
  v.code = std::move(code);
  v.shape = std::move(shape);
  v.level = level;
  return v;
}

Val Int(std::int64_t value) {
  Val v;
  v.kind = VKind::kInt;
  v.integer = value;
  return v;
}

Val DynamicInt(std::string code, int level) {
  Val v;
  v.kind = VKind::kInt;
  v.integer = -1;
  v.code = std::move(code);
  v.level = level;
  return v;
}

Val Float(double value) {
  Val v;
  v.kind = VKind::kFloat;
  v.number = value;
  return v;
}

Val Bool(bool value) {
  Val v;
  v.kind = VKind::kBool;
  v.integer = value ? 1 : 0;
  return v;
}

Val NoneVal() { return Val{}; }

Val Str(std::string text) {
  Val v;
  v.kind = VKind::kStr;
  v.text = std::move(text);
  return v;
}

Val Seq(std::vector<Val> items, bool is_list) {
  Val v;
  v.kind = VKind::kSeq;
  v.items = std::move(items);
  v.is_list = is_list;
  return v;
}

Val Name(std::string path) {
  Val v;
  v.kind = VKind::kName;
  v.text = std::move(path);
  return v;
}

Val DTypeVal(std::string torch_name) {
  Val v;
  v.kind = VKind::kDType;
  v.text = std::move(torch_name);
  return v;
}

std::string Describe(const Val& v) {
  switch (v.kind) {
    case VKind::kTensor:
      return "a tensor of shape " + FormatShape(v.shape);
    case VKind::kTensorList:
      return fmt::format("a list of {} tensors", v.items.size());
    case VKind::kInt:
      return v.dynamic() ? "a size known only at run time" : "the int " + std::to_string(v.integer);
    case VKind::kFloat:
      return "the float " + PythonFloat(v.number);
    case VKind::kBool:
      return v.integer ? "True" : "False";
    case VKind::kNone:
      return "None";
    case VKind::kEllipsis:
      return "Ellipsis";
    case VKind::kStr:
      return "the string '" + PrintableText(v.text, 40) + "'";
    case VKind::kSlice:
      return "a slice";
    case VKind::kSeq:
      return fmt::format("a {} of {} item(s)", v.is_list ? "list" : "tuple", v.items.size());
    case VKind::kName:
      return PrintableText(v.text, 80);
    case VKind::kDType:
      return "the dtype " + v.text;
  }
  return "a value";
}

// Code for `v` as an operand needing binding strength `needed`.
std::string Wrap(const std::string& code, int level, int needed) {
  return level < needed ? "(" + code + ")" : code;
}

// Python source of a value used as a literal argument (numbers, None,
// tuples of them, run-time sizes, strings).
Expected<std::string> Literal(const Val& v) {
  switch (v.kind) {
    case VKind::kInt:
      return v.dynamic() ? v.code : std::to_string(v.integer);
    case VKind::kFloat:
      return PythonFloat(v.number);
    case VKind::kBool:
      return std::string(v.integer ? "True" : "False");
    case VKind::kNone:
      return std::string("None");
    case VKind::kStr:
      return PythonString(v.text);
    case VKind::kSeq: {
      std::vector<std::string> parts;
      for (const Val& item : v.items) {
        K2T_ASSIGN_OR_RETURN(std::string part, Literal(item));
        parts.push_back(part);
      }
      if (v.is_list) return "[" + Join(parts, ", ") + "]";
      return "(" + Join(parts, ", ") + (parts.size() == 1 ? ",)" : ")");
    }
    default:
      return MakeError("{} cannot be written as a constant", Describe(v));
  }
}

int LiteralLevel(const Val& v) {
  if (v.dynamic()) return v.level;
  if ((v.kind == VKind::kInt || v.kind == VKind::kBool) && v.integer < 0) return kUnaryLevel;
  if (v.kind == VKind::kFloat && std::signbit(v.number)) return kUnaryLevel;
  return kAtom;
}

std::string DimsText(const std::vector<int>& dims) {
  if (dims.size() == 1) return std::to_string(dims[0]);
  std::vector<std::string> parts;
  for (int d : dims) parts.push_back(std::to_string(d));
  return "(" + Join(parts, ", ") + (parts.size() == 1 ? ",)" : ")");
}

std::optional<std::int64_t> CheckedAdd(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) return std::nullopt;
  return out;
}
std::optional<std::int64_t> CheckedSub(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_sub_overflow(a, b, &out)) return std::nullopt;
  return out;
}
std::optional<std::int64_t> CheckedMul(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

// Python's floor division and modulo on ints.
std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
std::int64_t FloorMod(std::int64_t a, std::int64_t b) { return a - FloorDiv(a, b) * b; }

// NumPy broadcasting (aligned on the right); unknown sizes stay unknown.
Expected<Shape> Broadcast(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::int64_t x = i < a.size() ? a[a.size() - 1 - i] : 1;
    const std::int64_t y = i < b.size() ? b[b.size() - 1 - i] : 1;
    std::int64_t& d = out[out.size() - 1 - i];
    if (x == 1) {
      d = y;
    } else if (y == 1 || x == y) {
      d = x;
    } else if (x < 0 || y < 0) {
      d = x < 0 ? y : x;
    } else {
      return MakeError("shapes {} and {} do not broadcast", FormatShape(a), FormatShape(b));
    }
  }
  return out;
}

// The Python slice's (start, length) over `size` elements, step > 0.
std::pair<std::int64_t, std::int64_t> SliceRange(std::optional<std::int64_t> start,
                                                 std::optional<std::int64_t> stop,
                                                 std::int64_t step, std::int64_t size) {
  auto clamp = [size](std::int64_t v) {
    if (v < 0) v += size;
    return std::clamp<std::int64_t>(v, 0, size);
  };
  const std::int64_t first = start ? clamp(*start) : 0;
  const std::int64_t last = stop ? clamp(*stop) : size;
  const std::int64_t length = last > first ? (last - first + step - 1) / step : 0;
  return {first, length};
}

class Translator;
struct Bound;
using Handler = std::function<Expected<Val>(Translator&, Bound&)>;

struct FunctionSpec {
  std::vector<std::string> params;
  std::size_t required = 0;
  Handler handler;
};

struct Bound {
  std::string function;  // its dotted name, for messages
  std::map<std::string, Val> args;

  bool Has(const std::string& name) const {
    const auto it = args.find(name);
    return it != args.end() && it->second.kind != VKind::kNone;
  }
  const Val& Get(const std::string& name) const { return args.at(name); }

  Error Bad(const std::string& name, const std::string& wanted) const {
    return MakeError("{}: argument '{}' must be {}, found {}", function, name, wanted,
                     Describe(args.at(name)));
  }
  Expected<Val> TensorArg(const std::string& name) const {
    const Val& v = Get(name);
    if (v.kind != VKind::kTensor) return Bad(name, "a tensor");
    return v;
  }
  Expected<std::int64_t> IntArg(const std::string& name, std::int64_t fallback) const {
    if (!Has(name)) return fallback;
    const Val& v = Get(name);
    if (v.kind != VKind::kInt || v.dynamic()) return Bad(name, "an int");
    return v.integer;
  }
  Expected<bool> BoolArg(const std::string& name, bool fallback) const {
    if (!Has(name)) return fallback;
    const Val& v = Get(name);
    if (v.kind != VKind::kBool && !(v.kind == VKind::kInt && !v.dynamic())) {
      return Bad(name, "a bool");
    }
    return v.integer != 0;
  }
  Expected<std::optional<double>> NumberArg(const std::string& name) const {
    if (!Has(name)) return std::optional<double>();
    const Val& v = Get(name);
    if (!v.numeric()) return Bad(name, "a number");
    return std::optional<double>(v.AsDouble());
  }
  Expected<std::string> StrArg(const std::string& name, const std::string& fallback) const {
    if (!Has(name)) return fallback;
    const Val& v = Get(name);
    if (v.kind != VKind::kStr) return Bad(name, "a string");
    return v.text;
  }
  // Static ints from an int or a sequence of ints.
  Expected<std::vector<std::int64_t>> IntsArg(const std::string& name) const {
    const Val& v = Get(name);
    std::vector<std::int64_t> out;
    if (v.kind == VKind::kInt && !v.dynamic()) return std::vector<std::int64_t>{v.integer};
    if (v.kind != VKind::kSeq) return Bad(name, "an int or a sequence of ints");
    for (const Val& item : v.items) {
      if (item.kind != VKind::kInt || item.dynamic()) return Bad(name, "a sequence of ints");
      out.push_back(item.integer);
    }
    return out;
  }
  // Tensors from a list or tuple of tensors.
  Expected<std::vector<Val>> TensorsArg(const std::string& name) const {
    const Val& v = Get(name);
    if (v.kind != VKind::kSeq && v.kind != VKind::kTensorList) {
      return Bad(name, "a list of tensors");
    }
    for (const Val& item : v.items) {
      if (item.kind != VKind::kTensor) return Bad(name, "a list of tensors");
    }
    if (v.items.empty()) return Bad(name, "a non-empty list of tensors");
    return v.items;
  }
};

const std::map<std::string, FunctionSpec>& Functions();

// Module names by the convention that gives them their usual meaning.
const std::map<std::string, std::string>& ModuleAliases() {
  static const std::map<std::string, std::string> aliases = {
      {"K", "keras.backend"}, {"backend", "keras.backend"}, {"keras", "keras"},
      {"tf", "tf"},           {"tensorflow", "tf"},        {"np", "np"},
      {"numpy", "np"},        {"ops", "keras.ops"},        {"math", "math"},
  };
  return aliases;
}

// Equivalent spellings of a dotted name, reduced to the one the tables use.
std::string Canonical(std::string path) {
  static const std::vector<std::pair<std::string, std::string>> prefixes = {
      {"tf.keras.backend.", "keras.backend."},  {"tf.compat.v2.", "tf."},
      {"tf.compat.v1.", "tf.v1."},              {"keras.src.ops.numpy.", "keras.ops."},
      {"keras.src.ops.nn.", "keras.ops."},      {"keras.src.ops.math.", "keras.ops."},
      {"keras.src.ops.core.", "keras.ops."},    {"keras.src.ops.image.", "keras.ops.image."},
      {"keras.src.ops.", "keras.ops."},         {"keras.ops.numpy.", "keras.ops."},
      {"keras.ops.nn.", "keras.ops."},          {"keras.ops.math.", "keras.ops."},
      {"keras.src.backend.", "keras.backend."}, {"keras.api.", "keras."},
  };
  for (const auto& [from, to] : prefixes) {
    if (StartsWith(path, from)) return to + path.substr(from.size());
  }
  return path;
}

// Names that are constants rather than functions.
std::optional<Val> NamedConstant(const std::string& path) {
  static const std::map<std::string, double> numbers = {
      {"np.pi", std::numbers::pi}, {"math.pi", std::numbers::pi}, {"np.e", std::numbers::e},
      {"math.e", std::numbers::e}, {"np.inf", HUGE_VAL},          {"math.inf", HUGE_VAL},
  };
  if (const auto it = numbers.find(path); it != numbers.end()) return Float(it->second);
  if (path == "np.newaxis" || path == "tf.newaxis") return NoneVal();
  static const std::map<std::string, std::string> dtypes = {
      {"float16", "torch.float16"}, {"float32", "torch.float32"}, {"float64", "torch.float64"},
      {"int32", "torch.int32"},     {"int64", "torch.int64"},     {"uint8", "torch.uint8"},
      {"bool", "torch.bool"},       {"int8", "torch.int8"},       {"int16", "torch.int16"},
  };
  for (const char* module : {"tf.", "np."}) {
    if (StartsWith(path, module)) {
      if (const auto it = dtypes.find(path.substr(3)); it != dtypes.end()) {
        return DTypeVal(it->second);
      }
    }
  }
  static const std::map<std::string, std::string> methods = {
      {"BILINEAR", "bilinear"}, {"NEAREST_NEIGHBOR", "nearest"},
      {"BICUBIC", "bicubic"},   {"AREA", "area"},
  };
  for (const char* prefix : {"tf.image.ResizeMethod.", "tf.v1.image.ResizeMethod."}) {
    if (StartsWith(path, prefix)) {
      if (const auto it = methods.find(path.substr(std::string(prefix).size()));
          it != methods.end()) {
        return Str(it->second);
      }
    }
  }
  return std::nullopt;
}

class Translator {
 public:
  Translator(const LambdaCall& call, Translation& out) : call_(call), out_(out) {}

  Expected<Val> Eval(const Expr& e) {
    switch (e.kind) {
      case ExprKind::kParam:
        return Param(e);
      case ExprKind::kFree:
        return Free(e);
      case ExprKind::kConst:
        return FromConst(*e.constant);
      case ExprKind::kGlobal:
        return Global(e.name);
      case ExprKind::kAttr: {
        K2T_ASSIGN_OR_RETURN(Val base, Eval(*e.operands[0]));
        return Attribute(base, e.name);
      }
      case ExprKind::kCall:
        return Call(e);
      case ExprKind::kBinary: {
        K2T_ASSIGN_OR_RETURN(Val a, Eval(*e.operands[0]));
        K2T_ASSIGN_OR_RETURN(Val b, Eval(*e.operands[1]));
        return Binary(e.binary, a, b);
      }
      case ExprKind::kUnary: {
        K2T_ASSIGN_OR_RETURN(Val a, Eval(*e.operands[0]));
        return Unary(e.unary, a);
      }
      case ExprKind::kSubscript: {
        K2T_ASSIGN_OR_RETURN(Val base, Eval(*e.operands[0]));
        K2T_ASSIGN_OR_RETURN(Val index, Eval(*e.operands[1]));
        return Subscript(base, index);
      }
      case ExprKind::kSlice: {
        Val slice;
        slice.kind = VKind::kSlice;
        for (const ExprPtr& part : e.operands) {
          K2T_ASSIGN_OR_RETURN(Val v, Eval(*part));
          if (v.kind != VKind::kInt && v.kind != VKind::kNone) {
            return MakeError("a slice bound is {}, not an int", Describe(v));
          }
          slice.items.push_back(v);
        }
        return slice;
      }
      case ExprKind::kTuple:
      case ExprKind::kList: {
        std::vector<Val> items;
        for (const ExprPtr& part : e.operands) {
          K2T_ASSIGN_OR_RETURN(Val v, Eval(*part));
          items.push_back(std::move(v));
        }
        return Seq(std::move(items), e.kind == ExprKind::kList);
      }
      case ExprKind::kUnpack: {
        K2T_ASSIGN_OR_RETURN(Val seq, Eval(*e.operands[0]));
        if (seq.kind != VKind::kSeq && seq.kind != VKind::kTensorList) {
          return MakeError("{} is unpacked into {} names", Describe(seq), e.count);
        }
        if (static_cast<int>(seq.items.size()) != e.count) {
          return MakeError("{} values are unpacked into {} names", seq.items.size(), e.count);
        }
        return seq.items[static_cast<std::size_t>(e.index)];
      }
    }
    return MakeError("unknown expression");
  }

  void NotElementwise() { out_.elementwise = false; }
  void Note(const std::string& note) {
    if (std::find(out_.notes.begin(), out_.notes.end(), note) == out_.notes.end()) {
      out_.notes.push_back(note);
    }
  }
  void Define(const std::string& name, const std::string& source) {
    for (const auto& [existing, body] : out_.definitions) {
      if (existing == name) return;
    }
    out_.definitions.emplace_back(name, source);
  }
  const KerasFlavor& flavor() const { return call_.flavor; }

  // Binary arithmetic on any mix of tensors and numbers.
  Expected<Val> Binary(BinaryOp op, const Val& a, const Val& b) {
    if (a.kind == VKind::kSeq && b.kind == VKind::kSeq && op == BinaryOp::kAdd) {
      std::vector<Val> items = a.items;
      items.insert(items.end(), b.items.begin(), b.items.end());
      return Seq(std::move(items), a.is_list);
    }
    if (a.numeric() && b.numeric()) return Fold(op, a, b);
    if (a.dynamic() || b.dynamic()) return DynamicArithmetic(op, a, b);
    if (a.kind != VKind::kTensor && b.kind != VKind::kTensor) {
      return MakeError("'{}' between {} and {} is not translated", BinaryOpSymbol(op),
                       Describe(a), Describe(b));
    }
    for (const Val* v : {&a, &b}) {
      if (v->kind != VKind::kTensor && !v->numeric()) {
        return MakeError("'{}' with {} is not translated", BinaryOpSymbol(op), Describe(*v));
      }
    }
    static const std::map<BinaryOp, int> levels = {
        {BinaryOp::kAdd, kSumLevel},          {BinaryOp::kSubtract, kSumLevel},
        {BinaryOp::kMultiply, kProductLevel}, {BinaryOp::kTrueDivide, kProductLevel},
        {BinaryOp::kFloorDivide, kProductLevel}, {BinaryOp::kModulo, kProductLevel},
        {BinaryOp::kPower, kPowerLevel},
    };
    Shape shape = a.kind == VKind::kTensor ? a.shape : b.shape;
    if (a.kind == VKind::kTensor && b.kind == VKind::kTensor) {
      K2T_ASSIGN_OR_RETURN(shape, Broadcast(a.shape, b.shape));
      // Tensors of different shapes meet aligned on the right: Keras's order.
      if (a.shape != b.shape) NotElementwise();
    }
    if (op == BinaryOp::kMatMul) {
      if (a.kind != VKind::kTensor || b.kind != VKind::kTensor) {
        return MakeError("'@' needs two tensors");
      }
      return MatMul(a, b);
    }
    const auto level = levels.find(op);
    if (level == levels.end()) {
      return MakeError("the operator '{}' on tensors is not translated", BinaryOpSymbol(op));
    }
    const int l = level->second;
    const bool power = op == BinaryOp::kPower;
    K2T_ASSIGN_OR_RETURN(std::string left, Operand(a, power ? l + 1 : l));
    K2T_ASSIGN_OR_RETURN(std::string right, Operand(b, power ? kUnaryLevel : l + 1));
    return Tensor(left + " " + BinaryOpSymbol(op) + " " + right, shape, l);
  }

  Expected<Val> MatMul(const Val& a, const Val& b) {
    NotElementwise();
    if (a.shape.size() < 2 || b.shape.size() < 2) {
      return MakeError("matrix products of tensors of rank below 2 are not translated");
    }
    const std::int64_t inner_a = a.shape.back();
    const std::int64_t inner_b = b.shape[b.shape.size() - 2];
    if (inner_a >= 0 && inner_b >= 0 && inner_a != inner_b) {
      return MakeError("matrix product of shapes {} and {}", FormatShape(a.shape),
                       FormatShape(b.shape));
    }
    Shape batch_a(a.shape.begin(), a.shape.end() - 2);
    Shape batch_b(b.shape.begin(), b.shape.end() - 2);
    K2T_ASSIGN_OR_RETURN(Shape shape, Broadcast(batch_a, batch_b));
    shape.push_back(a.shape[a.shape.size() - 2]);
    shape.push_back(b.shape.back());
    return Tensor(fmt::format("torch.matmul({}, {})", a.code, b.code), shape);
  }

  // `v` as an operand of an operator needing binding strength `needed`.
  Expected<std::string> Operand(const Val& v, int needed) {
    if (v.kind == VKind::kTensor) return Wrap(v.code, v.level, needed);
    K2T_ASSIGN_OR_RETURN(std::string literal, Literal(v));
    return Wrap(literal, LiteralLevel(v), needed);
  }

  Expected<Val> Unary(UnaryOp op, const Val& a) {
    if (op == UnaryOp::kPositive && (a.kind == VKind::kTensor || a.numeric())) return a;
    if (op != UnaryOp::kNegative) {
      return MakeError("the unary operator on {} is not translated", Describe(a));
    }
    if (a.kind == VKind::kInt && !a.dynamic()) {
      if (a.integer == INT64_MIN) return MakeError("an int constant overflows");
      return Int(-a.integer);
    }
    if (a.kind == VKind::kFloat) return Float(-a.number);
    if (a.kind == VKind::kBool) return Int(-a.integer);
    if (a.kind == VKind::kTensor) return Tensor("-" + Wrap(a.code, a.level, kUnaryLevel), a.shape,
                                                kUnaryLevel);
    if (a.dynamic()) return DynamicInt("-" + Wrap(a.code, a.level, kUnaryLevel), kUnaryLevel);
    return MakeError("'-' on {} is not translated", Describe(a));
  }

  // Keras order is assumed from here on: shapes and axes are Keras's.
  Expected<int> Axis(std::int64_t axis, std::size_t rank, const std::string& function) {
    const auto r = static_cast<std::int64_t>(rank);
    const std::int64_t normalized = axis < 0 ? axis + r : axis;
    if (normalized < 0 || normalized >= r) {
      return MakeError("{}: axis {} is out of range for a tensor of rank {}", function, axis,
                       rank);
    }
    return static_cast<int>(normalized);
  }

  Expected<Val> Subscript(const Val& base, const Val& index) {
    if (base.kind == VKind::kSeq || base.kind == VKind::kTensorList) {
      return SequenceItem(base, index);
    }
    if (base.kind != VKind::kTensor) {
      return MakeError("indexing {} is not translated", Describe(base));
    }
    NotElementwise();
    std::vector<Val> items;
    if (index.kind == VKind::kSeq && !index.is_list) {
      items = index.items;
    } else {
      items = {index};
    }
    std::size_t consumed = 0;
    int ellipses = 0;
    for (const Val& item : items) {
      if (item.kind == VKind::kInt || item.kind == VKind::kSlice) ++consumed;
      else if (item.kind == VKind::kEllipsis) ++ellipses;
      else if (item.kind != VKind::kNone) {
        return MakeError("indexing a tensor with {} is not translated", Describe(item));
      }
    }
    if (ellipses > 1 || consumed > base.shape.size()) {
      return MakeError("the index does not fit a tensor of shape {}", FormatShape(base.shape));
    }
    Shape shape;
    std::vector<std::string> parts;
    std::size_t axis = 0;
    for (const Val& item : items) {
      if (item.kind == VKind::kEllipsis) {
        const std::size_t spanned = base.shape.size() - consumed;
        for (std::size_t k = 0; k < spanned; ++k) shape.push_back(base.shape[axis++]);
        parts.push_back("...");
      } else if (item.kind == VKind::kNone) {
        shape.push_back(1);
        parts.push_back("None");
      } else if (item.kind == VKind::kInt) {
        const std::int64_t size = base.shape[axis++];
        if (!item.dynamic() && size >= 0 && (item.integer >= size || item.integer < -size)) {
          return MakeError("index {} is out of range for an axis of size {}", item.integer,
                           size);
        }
        K2T_ASSIGN_OR_RETURN(std::string text, Literal(item));
        parts.push_back(text);
      } else {
        K2T_ASSIGN_OR_RETURN(std::string text, SliceText(item));
        K2T_ASSIGN_OR_RETURN(std::int64_t length, SliceLength(item, base.shape[axis++]));
        shape.push_back(length);
        parts.push_back(text);
      }
    }
    while (axis < base.shape.size()) shape.push_back(base.shape[axis++]);
    return Tensor(Wrap(base.code, base.level, kAtom) + "[" + Join(parts, ", ") + "]", shape);
  }

  Expected<std::string> SliceText(const Val& slice) {
    std::vector<std::string> parts;
    for (const Val& bound : slice.items) {
      if (bound.kind == VKind::kNone) {
        parts.push_back("");
      } else {
        K2T_ASSIGN_OR_RETURN(std::string text, Literal(bound));
        parts.push_back(text);
      }
    }
    std::string text = parts[0] + ":" + parts[1];
    if (!parts[2].empty()) text += ":" + parts[2];
    return text;
  }

  // The length of a slice over an axis of `size` (-1: unknown) elements.
  Expected<std::int64_t> SliceLength(const Val& slice, std::int64_t size) {
    const Val& step_val = slice.items[2];
    std::int64_t step = 1;
    if (step_val.kind == VKind::kInt) {
      if (step_val.dynamic()) return MakeError("a slice step known only at run time");
      step = step_val.integer;
    }
    if (step <= 0) {
      return MakeError("slice step {} is not translated: PyTorch has no negative or zero steps",
                       step);
    }
    std::optional<std::int64_t> start, stop;
    bool dynamic = false;
    for (int k = 0; k < 2; ++k) {
      const Val& bound = slice.items[static_cast<std::size_t>(k)];
      if (bound.kind != VKind::kInt) continue;
      if (bound.dynamic()) {
        dynamic = true;
        continue;
      }
      (k == 0 ? start : stop) = bound.integer;
    }
    // A size known only at run time (the batch) gives one known only then.
    if (dynamic || size < 0) return std::int64_t{-1};
    return SliceRange(start, stop, step, size).second;
  }

  Expected<Val> SequenceItem(const Val& base, const Val& index) {
    const auto n = static_cast<std::int64_t>(base.items.size());
    if (index.kind == VKind::kInt && !index.dynamic()) {
      const std::int64_t i = index.integer < 0 ? index.integer + n : index.integer;
      if (i < 0 || i >= n) {
        return MakeError("index {} is out of range for {}", index.integer, Describe(base));
      }
      return base.items[static_cast<std::size_t>(i)];
    }
    if (index.kind == VKind::kSlice) {
      std::optional<std::int64_t> bounds[3];
      for (int k = 0; k < 3; ++k) {
        const Val& b = index.items[static_cast<std::size_t>(k)];
        if (b.dynamic()) return MakeError("a slice of a sequence with run-time bounds");
        if (b.kind == VKind::kInt) bounds[k] = b.integer;
      }
      const std::int64_t step = bounds[2].value_or(1);
      if (step <= 0) return MakeError("slice step {} of a sequence is not translated", step);
      const auto [first, length] = SliceRange(bounds[0], bounds[1], step, n);
      Val out = base;
      out.items.clear();
      for (std::int64_t k = 0; k < length; ++k) {
        out.items.push_back(base.items[static_cast<std::size_t>(first + k * step)]);
      }
      return out;
    }
    return MakeError("indexing {} with {} is not translated", Describe(base), Describe(index));
  }

  Expected<Val> Attribute(const Val& base, const std::string& name) {
    if (base.kind == VKind::kName) {
      const std::string path = Canonical(base.text + "." + name);
      if (auto constant = NamedConstant(path)) return *constant;
      return Name(path);
    }
    if (base.kind == VKind::kTensor) {
      if (name == "shape") return StaticShape(base);
      if (name == "ndim") return Int(static_cast<std::int64_t>(base.shape.size()));
    }
    return MakeError("attribute '{}' of {} is not translated", PrintableText(name, 40),
                     Describe(base));
  }

  // x.shape, K.int_shape(x): sizes known from the model, None where not.
  Val StaticShape(const Val& tensor) {
    NotElementwise();
    std::vector<Val> items;
    for (std::int64_t d : tensor.shape) items.push_back(d < 0 ? NoneVal() : Int(d));
    return Seq(std::move(items), false);
  }

  // K.shape(x), tf.shape(x): sizes read from the tensor where not known.
  Val RuntimeShape(const Val& tensor) {
    NotElementwise();
    std::vector<Val> items;
    for (std::size_t i = 0; i < tensor.shape.size(); ++i) {
      const std::int64_t d = tensor.shape[i];
      items.push_back(d >= 0 ? Int(d)
                             : DynamicInt(Wrap(tensor.code, tensor.level, kAtom) + ".shape[" +
                                              std::to_string(i) + "]",
                                          kAtom));
    }
    return Seq(std::move(items), false);
  }

  Expected<Val> Call(const Expr& e) {
    K2T_ASSIGN_OR_RETURN(Val callee, Eval(*e.operands[0]));
    if (callee.kind != VKind::kName) {
      return MakeError("calling {} is not translated", Describe(callee));
    }
    const auto& functions = Functions();
    const auto it = functions.find(callee.text);
    if (it == functions.end()) {
      return MakeError("the function {} is not one keras2torch translates",
                       PrintableText(callee.text, 80));
    }
    const FunctionSpec& spec = it->second;
    Bound bound;
    bound.function = callee.text;
    const std::size_t args = e.operands.size() - 1;
    const std::size_t positional = args - e.keywords.size();
    if (positional > spec.params.size()) {
      return MakeError("{} takes at most {} positional argument(s), {} given", callee.text,
                       spec.params.size(), positional);
    }
    for (std::size_t k = 0; k < args; ++k) {
      K2T_ASSIGN_OR_RETURN(Val value, Eval(*e.operands[k + 1]));
      const std::string name =
          k < positional ? spec.params[k] : e.keywords[k - positional];
      if (std::find(spec.params.begin(), spec.params.end(), name) == spec.params.end()) {
        return MakeError("{} has no argument '{}'", callee.text, PrintableText(name, 40));
      }
      if (!bound.args.emplace(name, std::move(value)).second) {
        return MakeError("{} receives argument '{}' twice", callee.text, name);
      }
    }
    for (std::size_t k = 0; k < spec.required; ++k) {
      if (!bound.args.count(spec.params[k])) {
        return MakeError("{} is called without its argument '{}'", callee.text, spec.params[k]);
      }
    }
    for (const std::string& param : spec.params) bound.args.emplace(param, NoneVal());
    return spec.handler(*this, bound);
  }

 private:
  Expected<Val> Param(const Expr& e) {
    const Function& fn = *call_.function;
    if (e.index == 0) return Input();
    const std::string& name = e.name;
    if (call_.arguments.is_object() && call_.arguments.contains(name)) {
      return FromJson(call_.arguments[name], "argument '" + name + "'");
    }
    if (name == "training") return Bool(false);  // Keras passes it; inference only
    if (name == "mask") return NoneVal();
    const int defaults =
        call_.defaults.is_array() ? static_cast<int>(call_.defaults.size()) : 0;
    const int first_default = fn.positional - defaults;
    if (e.index < fn.positional && e.index >= first_default) {
      return FromJson(call_.defaults[static_cast<std::size_t>(e.index - first_default)],
                      "the default of parameter '" + name + "'");
    }
    return MakeError("parameter '{}' gets no value: it is not in the layer's arguments and "
                     "has no saved default",
                     PrintableText(name, 40));
  }

  Val Input() {
    if (!call_.list_input && call_.inputs.size() == 1) {
      return Tensor(call_.inputs[0].code, call_.inputs[0].shape);
    }
    Val list;
    list.kind = VKind::kTensorList;
    for (const TensorInput& input : call_.inputs) {
      list.items.push_back(Tensor(input.code, input.shape));
    }
    return list;
  }

  Expected<Val> Free(const Expr& e) {
    if (!call_.closure.is_array() || static_cast<std::size_t>(e.index) >= call_.closure.size()) {
      return MakeError("closure variable '{}' has no saved value", PrintableText(e.name, 40));
    }
    return FromJson(call_.closure[static_cast<std::size_t>(e.index)],
                    "closure variable '" + e.name + "'");
  }

  Expected<Val> FromJson(const Json& value, const std::string& what) {
    if (value.is_null()) return NoneVal();
    if (value.is_boolean()) return Bool(value.get<bool>());
    if (value.is_number_integer()) {
      if (value.is_number_unsigned() && value.get<std::uint64_t>() > INT64_MAX) {
        return MakeError("{} is an int too large to translate", PrintableText(what, 60));
      }
      return Int(value.get<std::int64_t>());
    }
    if (const auto number = NumberValue(value)) return Float(*number);
    if (value.is_string()) return Str(value.get<std::string>());
    if (value.is_array()) {
      std::vector<Val> items;
      for (const Json& item : value) {
        K2T_ASSIGN_OR_RETURN(Val v, FromJson(item, what));
        items.push_back(std::move(v));
      }
      return Seq(std::move(items), true);
    }
    // Keras 3 writes tuples as {"class_name": "__tuple__", "config": {"value": [...]}}.
    if (value.is_object() && value.value("class_name", Json()) == "__tuple__" &&
        value.contains("config") && value["config"].is_object() &&
        value["config"].contains("value") && value["config"]["value"].is_array()) {
      K2T_ASSIGN_OR_RETURN(Val seq, FromJson(value["config"]["value"], what));
      seq.is_list = false;
      return seq;
    }
    return MakeError("{} is {}, which is not translated", PrintableText(what, 60),
                     Abbreviate(value, 60));
  }

  Expected<Val> FromConst(const PyObject& c) {
    switch (c.type) {
      case PyType::kNone:
        return NoneVal();
      case PyType::kBool:
        return Bool(c.boolean);
      case PyType::kInt:
        return Int(c.integer);
      case PyType::kFloat:
        return Float(c.real);
      case PyType::kStr:
        return Str(c.text);
      case PyType::kEllipsis: {
        Val v;
        v.kind = VKind::kEllipsis;
        return v;
      }
      case PyType::kTuple:
      case PyType::kList: {
        std::vector<Val> items;
        for (const PyRef& item : c.items) {
          K2T_ASSIGN_OR_RETURN(Val v, FromConst(*item));
          items.push_back(std::move(v));
        }
        return Seq(std::move(items), c.type == PyType::kList);
      }
      default:
        return MakeError("the constant {} is not translated", Repr(c, 40));
    }
  }

  Expected<Val> Global(const std::string& name) {
    const auto& aliases = ModuleAliases();
    if (const auto it = aliases.find(name); it != aliases.end()) {
      if (name != it->second) {
        Note("the global name " + name + " was read as " +
             (it->second == "tf" ? std::string("tensorflow") : it->second));
      }
      return Name(it->second);
    }
    static const std::set<std::string> builtins = {"float", "int", "len", "abs",
                                                   "min",   "max", "round"};
    if (builtins.count(name)) return Name("builtins." + name);
    return MakeError("the global name '{}' is not a module keras2torch knows "
                     "(K, backend, keras, tf, np, ops, math)",
                     PrintableText(name, 40));
  }

  Expected<Val> Fold(BinaryOp op, const Val& a, const Val& b) {
    const bool ints = a.kind != VKind::kFloat && b.kind != VKind::kFloat;
    if (ints && op != BinaryOp::kTrueDivide) {
      const std::int64_t x = a.integer;
      const std::int64_t y = b.integer;
      std::optional<std::int64_t> r;
      switch (op) {
        case BinaryOp::kAdd: r = CheckedAdd(x, y); break;
        case BinaryOp::kSubtract: r = CheckedSub(x, y); break;
        case BinaryOp::kMultiply: r = CheckedMul(x, y); break;
        case BinaryOp::kFloorDivide:
          if (y == 0) return MakeError("an integer division by zero");
          if (!(x == INT64_MIN && y == -1)) r = FloorDiv(x, y);
          break;
        case BinaryOp::kModulo:
          if (y == 0) return MakeError("an integer modulo by zero");
          if (!(x == INT64_MIN && y == -1)) r = FloorMod(x, y);
          break;
        case BinaryOp::kPower:
          if (y < 0) return Float(std::pow(static_cast<double>(x), static_cast<double>(y)));
          r = 1;
          for (std::int64_t k = 0; k < y && r; ++k) r = CheckedMul(*r, x);
          break;
        default:
          return MakeError("the operator '{}' on numbers is not translated", BinaryOpSymbol(op));
      }
      if (!r) return MakeError("integer arithmetic overflows");
      return Int(*r);
    }
    const double x = a.AsDouble();
    const double y = b.AsDouble();
    switch (op) {
      case BinaryOp::kAdd: return Float(x + y);
      case BinaryOp::kSubtract: return Float(x - y);
      case BinaryOp::kMultiply: return Float(x * y);
      case BinaryOp::kTrueDivide:
        if (y == 0) return MakeError("a division by zero");
        return Float(x / y);
      case BinaryOp::kFloorDivide:
        if (y == 0) return MakeError("a division by zero");
        return Float(std::floor(x / y));
      case BinaryOp::kPower: return Float(std::pow(x, y));
      default:
        return MakeError("the operator '{}' on numbers is not translated", BinaryOpSymbol(op));
    }
  }

  // Sizes read at run time (x.shape[0] * 2) stay code.
  Expected<Val> DynamicArithmetic(BinaryOp op, const Val& a, const Val& b) {
    static const std::map<BinaryOp, int> levels = {
        {BinaryOp::kAdd, kSumLevel},
        {BinaryOp::kSubtract, kSumLevel},
        {BinaryOp::kMultiply, kProductLevel},
        {BinaryOp::kFloorDivide, kProductLevel},
    };
    const auto level = levels.find(op);
    const bool ints = a.kind == VKind::kInt && b.kind == VKind::kInt;
    if (level == levels.end() || !ints) {
      return MakeError("'{}' between {} and {} is not translated", BinaryOpSymbol(op),
                       Describe(a), Describe(b));
    }
    K2T_ASSIGN_OR_RETURN(std::string left, Operand(a, level->second));
    K2T_ASSIGN_OR_RETURN(std::string right, Operand(b, level->second + 1));
    return DynamicInt(left + " " + BinaryOpSymbol(op) + " " + right, level->second);
  }

  const LambdaCall& call_;
  Translation& out_;
};

// ---------------------------------------------------------------------------
// The functions keras2torch translates.

using Params = std::vector<std::string>;

// Element-wise functions of `x`: `format` has one {} for the tensor; on a
// number, `on_number` folds the call.
Handler ElementWise(std::string format, std::function<double(double)> on_number = nullptr) {
  return [format, on_number](Translator&, Bound& b) -> Expected<Val> {
    const Val& x = b.Get("x");
    if (x.numeric() && on_number) return Float(on_number(x.AsDouble()));
    if (x.kind != VKind::kTensor) return b.Bad("x", "a tensor");
    return Tensor(fmt::format(fmt::runtime(format), x.code), x.shape);
  };
}

// Reductions over axes: torch functions taking dim and keepdim.
Handler Reduction(std::string torch_function, bool single_axis_only = false) {
  return [torch_function, single_axis_only](Translator& t, Bound& b) -> Expected<Val> {
    const std::string tensor_name = b.args.count("x") ? "x" : "input_tensor";
    K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg(tensor_name));
    t.NotElementwise();
    K2T_ASSIGN_OR_RETURN(bool keepdims, b.BoolArg("keepdims", false));
    std::vector<int> dims;
    if (b.Has("axis")) {
      K2T_ASSIGN_OR_RETURN(auto axes, b.IntsArg("axis"));
      for (std::int64_t a : axes) {
        K2T_ASSIGN_OR_RETURN(int d, t.Axis(a, x.shape.size(), b.function));
        if (std::find(dims.begin(), dims.end(), d) == dims.end()) dims.push_back(d);
      }
      std::sort(dims.begin(), dims.end());
    } else {
      for (std::size_t d = 0; d < x.shape.size(); ++d) dims.push_back(static_cast<int>(d));
    }
    Shape shape;
    for (std::size_t d = 0; d < x.shape.size(); ++d) {
      const bool reduced = std::find(dims.begin(), dims.end(), static_cast<int>(d)) != dims.end();
      if (!reduced) shape.push_back(x.shape[d]);
      if (reduced && keepdims) shape.push_back(1);
    }
    if (!b.Has("axis") && !keepdims) {
      return Tensor(fmt::format("{}({})", torch_function, x.code), shape);
    }
    if (single_axis_only && dims.size() != 1) {
      return MakeError("{} over {} axes is not translated", b.function, dims.size());
    }
    return Tensor(fmt::format("{}({}, dim={}{})", torch_function, x.code, DimsText(dims),
                              keepdims ? ", keepdim=True" : ""),
                  shape);
  };
}

// Functions of two operands that follow the arithmetic operators.
Handler BinaryFunction(BinaryOp op, std::string first, std::string second) {
  return [op, first, second](Translator& t, Bound& b) -> Expected<Val> {
    return t.Binary(op, b.Get(first), b.Get(second));
  };
}

// maximum / minimum: of two tensors, or of a tensor and a number (a clamp).
Handler Extremum(bool maximum, std::string first, std::string second) {
  return [maximum, first, second](Translator& t, Bound& b) -> Expected<Val> {
    const Val& x = b.Get(first);
    const Val& y = b.Get(second);
    if (x.numeric() && y.numeric()) {
      return Float(maximum ? std::max(x.AsDouble(), y.AsDouble())
                           : std::min(x.AsDouble(), y.AsDouble()));
    }
    const char* bound = maximum ? "min" : "max";
    if (x.kind == VKind::kTensor && y.numeric()) {
      K2T_ASSIGN_OR_RETURN(std::string v, Literal(y));
      return Tensor(fmt::format("torch.clamp({}, {}={})", x.code, bound, v), x.shape);
    }
    if (y.kind == VKind::kTensor && x.numeric()) {
      K2T_ASSIGN_OR_RETURN(std::string v, Literal(x));
      return Tensor(fmt::format("torch.clamp({}, {}={})", y.code, bound, v), y.shape);
    }
    if (x.kind != VKind::kTensor || y.kind != VKind::kTensor) {
      return MakeError("{} of {} and {} is not translated", b.function, Describe(x), Describe(y));
    }
    K2T_ASSIGN_OR_RETURN(Shape shape, Broadcast(x.shape, y.shape));
    if (x.shape != y.shape) t.NotElementwise();
    return Tensor(fmt::format("torch.{}({}, {})", maximum ? "maximum" : "minimum", x.code, y.code),
                  shape);
  };
}

Expected<Val> Clip(Translator&, Bound& b, const std::string& x_name, const std::string& low_name,
                   const std::string& high_name, bool keras_backend) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg(x_name));
  K2T_ASSIGN_OR_RETURN(auto low, b.NumberArg(low_name));
  K2T_ASSIGN_OR_RETURN(auto high, b.NumberArg(high_name));
  // keras.backend.clip raises a maximum below the minimum to the minimum.
  if (keras_backend && low && high && *high < *low) high = low;
  std::vector<std::string> parts = {x.code};
  if (low) parts.push_back("min=" + PythonFloat(*low));
  if (high) parts.push_back("max=" + PythonFloat(*high));
  if (!low && !high) return x;
  return Tensor("torch.clamp(" + Join(parts, ", ") + ")", x.shape);
}

Expected<Val> ExpandDims(Translator& t, Bound& b, const std::string& x_name, std::int64_t axis) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg(x_name));
  t.NotElementwise();
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  const std::int64_t a = axis < 0 ? axis + rank + 1 : axis;
  if (a < 0 || a > rank) {
    return MakeError("{}: axis {} is out of range for a tensor of rank {}", b.function, axis,
                     rank);
  }
  Shape shape = x.shape;
  shape.insert(shape.begin() + a, 1);
  return Tensor(fmt::format("torch.unsqueeze({}, {})", x.code, a), shape);
}

Expected<Val> Squeeze(Translator& t, Bound& b, const std::string& x_name,
                      const std::string& axis_name) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg(x_name));
  t.NotElementwise();
  std::vector<int> dims;
  if (b.Has(axis_name)) {
    K2T_ASSIGN_OR_RETURN(auto axes, b.IntsArg(axis_name));
    for (std::int64_t a : axes) {
      K2T_ASSIGN_OR_RETURN(int d, t.Axis(a, x.shape.size(), b.function));
      if (x.shape[static_cast<std::size_t>(d)] != 1) {
        return MakeError("{}: axis {} has size {}, not 1", b.function, a,
                         x.shape[static_cast<std::size_t>(d)]);
      }
      dims.push_back(d);
    }
  } else {
    // Without axes every size-1 axis goes; an unknown size would have to be read at run time.
    for (std::size_t d = 0; d < x.shape.size(); ++d) {
      if (x.shape[d] < 0 && d > 0) {
        return MakeError("{} without an axis on a tensor of shape {} with unknown sizes",
                         b.function, FormatShape(x.shape));
      }
      if (x.shape[d] == 1) dims.push_back(static_cast<int>(d));
    }
  }
  std::sort(dims.begin(), dims.end());
  Shape shape;
  for (std::size_t d = 0; d < x.shape.size(); ++d) {
    if (std::find(dims.begin(), dims.end(), static_cast<int>(d)) == dims.end()) {
      shape.push_back(x.shape[d]);
    }
  }
  if (dims.empty()) return x;
  return Tensor(fmt::format("torch.squeeze({}, {})", x.code, DimsText(dims)), shape);
}

Expected<Val> Concatenate(Translator& t, Bound& b, const std::string& list_name,
                          std::int64_t axis, bool stack) {
  K2T_ASSIGN_OR_RETURN(std::vector<Val> tensors, b.TensorsArg(list_name));
  t.NotElementwise();
  const std::size_t rank = tensors[0].shape.size();
  // A stack's axis may also be one past the last.
  K2T_ASSIGN_OR_RETURN(int d, t.Axis(axis, stack ? rank + 1 : rank, b.function));
  Shape shape = tensors[0].shape;
  std::vector<std::string> codes;
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const Shape& s = tensors[k].shape;
    if (s.size() != rank) {
      return MakeError("{} of tensors of shapes {} and {}", b.function, FormatShape(shape),
                       FormatShape(s));
    }
    for (std::size_t i = 0; i < rank; ++i) {
      if (!stack && static_cast<int>(i) == d) continue;
      if (s[i] >= 0 && shape[i] >= 0 && s[i] != shape[i]) {
        return MakeError("{} of tensors of shapes {} and {}", b.function,
                         FormatShape(tensors[0].shape), FormatShape(s));
      }
      if (shape[i] < 0) shape[i] = s[i];
    }
    if (!stack && k > 0) {
      const std::int64_t add = s[static_cast<std::size_t>(d)];
      std::int64_t& total = shape[static_cast<std::size_t>(d)];
      total = (total < 0 || add < 0) ? -1 : total + add;
    }
    codes.push_back(tensors[k].code);
  }
  if (stack) shape.insert(shape.begin() + d, static_cast<std::int64_t>(tensors.size()));
  return Tensor(fmt::format("torch.{}([{}], dim={})", stack ? "stack" : "cat", Join(codes, ", "),
                            d),
                shape);
}

Expected<Val> Reshape(Translator& t, Bound& b, const std::string& x_name,
                      const std::string& shape_name) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg(x_name));
  t.NotElementwise();
  const Val& target = b.Get(shape_name);
  if (target.kind != VKind::kSeq) return b.Bad(shape_name, "a sequence of sizes");
  std::vector<std::string> parts;
  Shape shape;
  int inferred = -1;
  for (std::size_t k = 0; k < target.items.size(); ++k) {
    const Val& item = target.items[k];
    if (item.kind != VKind::kInt) return b.Bad(shape_name, "a sequence of sizes");
    K2T_ASSIGN_OR_RETURN(std::string text, Literal(item));
    parts.push_back(text);
    if (!item.dynamic() && item.integer == -1) {
      if (inferred >= 0) return MakeError("{}: more than one size is -1", b.function);
      inferred = static_cast<int>(k);
    }
    shape.push_back(item.dynamic() ? -1 : item.integer);
  }
  // A -1 is known when everything but the batch is: the batch must then be
  // the run-time first size, kept as it is.
  Shape in_rest(x.shape.begin() + (x.shape.empty() ? 0 : 1), x.shape.end());
  const bool batch_kept = !shape.empty() && !x.shape.empty() && x.shape[0] < 0 &&
                          (target.items[0].dynamic() || inferred == 0);
  auto known = [](const Shape& s) {
    return std::all_of(s.begin(), s.end(), [](std::int64_t d) { return d >= 0; });
  };
  Shape out_rest(shape.begin() + (shape.empty() ? 0 : 1), shape.end());
  if (batch_kept && known(in_rest)) {
    std::int64_t total = 1;
    for (std::int64_t d : in_rest) total *= d;
    std::int64_t product = 1;
    int unknown = -1;
    for (std::size_t k = 0; k < out_rest.size(); ++k) {
      if (out_rest[k] < 0) unknown = static_cast<int>(k);
      else product *= out_rest[k];
    }
    if (unknown >= 0 && product > 0 && total % product == 0) {
      out_rest[static_cast<std::size_t>(unknown)] = total / product;
    } else if (unknown < 0 && product != total) {
      return MakeError("{}: cannot reshape {} into {}", b.function, FormatShape(x.shape),
                       Join(parts, ", "));
    }
    shape = {-1};
    shape.insert(shape.end(), out_rest.begin(), out_rest.end());
  }
  return Tensor(fmt::format("torch.reshape({}, ({}{}))", x.code, Join(parts, ", "),
                            parts.size() == 1 ? "," : ""),
                shape);
}

Expected<Val> Permute(Translator& t, Bound& b, const std::string& x_name,
                      const std::string& perm_name) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg(x_name));
  t.NotElementwise();
  std::vector<std::int64_t> perm;
  if (b.Has(perm_name)) {
    K2T_ASSIGN_OR_RETURN(perm, b.IntsArg(perm_name));
  } else {
    for (std::size_t k = x.shape.size(); k-- > 0;) perm.push_back(static_cast<std::int64_t>(k));
  }
  if (perm.size() != x.shape.size()) {
    return MakeError("{}: {} axes for a tensor of rank {}", b.function, perm.size(),
                     x.shape.size());
  }
  Shape shape;
  std::vector<std::string> parts;
  std::vector<bool> seen(perm.size(), false);
  for (std::int64_t p : perm) {
    K2T_ASSIGN_OR_RETURN(int d, t.Axis(p, x.shape.size(), b.function));
    if (seen[static_cast<std::size_t>(d)]) {
      return MakeError("{}: {} is not a permutation", b.function, FormatList(perm));
    }
    seen[static_cast<std::size_t>(d)] = true;
    shape.push_back(x.shape[static_cast<std::size_t>(d)]);
    parts.push_back(std::to_string(d));
  }
  return Tensor(fmt::format("{}.permute({})", Wrap(x.code, x.level, kAtom), Join(parts, ", ")),
                shape);
}

Expected<Val> Tile(Translator& t, Bound& b, const std::string& x_name,
                   const std::string& reps_name) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg(x_name));
  t.NotElementwise();
  K2T_ASSIGN_OR_RETURN(auto reps, b.IntsArg(reps_name));
  if (reps.size() != x.shape.size()) {
    return MakeError("{}: {} repetitions for a tensor of rank {}", b.function, reps.size(),
                     x.shape.size());
  }
  Shape shape;
  std::vector<std::string> parts;
  for (std::size_t k = 0; k < reps.size(); ++k) {
    if (reps[k] < 0) return MakeError("{}: negative repetition {}", b.function, reps[k]);
    shape.push_back(x.shape[k] < 0 ? -1 : x.shape[k] * reps[k]);
    parts.push_back(std::to_string(reps[k]));
  }
  return Tensor(fmt::format("{}.repeat({})", Wrap(x.code, x.level, kAtom), Join(parts, ", ")),
                shape);
}

// x * rsqrt(max(sum(x^2), epsilon)): TensorFlow's l2_normalize exactly.
constexpr const char* kL2NormalizeSource =
    R"(def _l2_normalize(x: torch.Tensor, dim, epsilon: float) -> torch.Tensor:
    """TensorFlow's l2_normalize: x / sqrt(max(sum(x**2, dim), epsilon))."""
    squares = torch.sum(torch.square(x), dim=dim, keepdim=True)
    return x * torch.rsqrt(torch.clamp(squares, min=epsilon))
)";

Expected<Val> L2Normalize(Translator& t, Bound& b, const std::string& x_name,
                          double epsilon) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg(x_name));
  t.NotElementwise();
  std::vector<int> dims;
  if (b.Has("axis")) {
    K2T_ASSIGN_OR_RETURN(auto axes, b.IntsArg("axis"));
    for (std::int64_t a : axes) {
      K2T_ASSIGN_OR_RETURN(int d, t.Axis(a, x.shape.size(), b.function));
      dims.push_back(d);
    }
  } else {
    for (std::size_t d = 0; d < x.shape.size(); ++d) dims.push_back(static_cast<int>(d));
  }
  t.Define("_l2_normalize", kL2NormalizeSource);
  return Tensor(fmt::format("_l2_normalize({}, {}, {})", x.code, DimsText(dims),
                            PythonFloat(epsilon)),
                x.shape);
}

Expected<Val> Softmax(Translator& t, Bound& b, const std::string& x_name, std::int64_t axis,
                      bool log) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg(x_name));
  t.NotElementwise();
  K2T_ASSIGN_OR_RETURN(int d, t.Axis(axis, x.shape.size(), b.function));
  return Tensor(fmt::format("torch.{}({}, dim={})", log ? "log_softmax" : "softmax", x.code, d),
                x.shape);
}

Expected<Val> Cast(Translator&, Bound& b, const std::string& x_name) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg(x_name));
  const Val& dtype = b.Get("dtype");
  std::string torch_dtype;
  if (dtype.kind == VKind::kDType) {
    torch_dtype = dtype.text;
  } else if (dtype.kind == VKind::kStr) {
    static const std::set<std::string> known = {"float16", "float32", "float64", "int8",
                                                "int16",   "int32",   "int64",   "uint8",
                                                "bool"};
    if (!known.count(dtype.text)) return b.Bad("dtype", "a dtype name");
    torch_dtype = "torch." + dtype.text;
  } else {
    return b.Bad("dtype", "a dtype");
  }
  return Tensor(fmt::format("{}.to({})", Wrap(x.code, x.level, kAtom), torch_dtype), x.shape);
}

// Pieces of `x` along `axis` as slices of it (each used piece computed alone).
Expected<Val> SplitAt(Translator& t, const Val& x, int axis,
                      const std::vector<std::int64_t>& sizes, const std::string& function) {
  t.NotElementwise();
  const std::int64_t size = x.shape[static_cast<std::size_t>(axis)];
  std::int64_t total = 0;
  for (std::int64_t s : sizes) {
    if (s < 0) return MakeError("{}: negative piece size {}", function, s);
    total += s;
  }
  if (size >= 0 && total != size) {
    return MakeError("{}: pieces of {} do not add up to the axis size {}", function,
                     FormatList(sizes), size);
  }
  Val list;
  list.kind = VKind::kTensorList;
  std::int64_t start = 0;
  for (std::int64_t s : sizes) {
    std::vector<std::string> parts(static_cast<std::size_t>(axis), ":");
    parts.push_back(fmt::format("{}:{}", start, start + s));
    Shape shape = x.shape;
    shape[static_cast<std::size_t>(axis)] = s;
    list.items.push_back(
        Tensor(Wrap(x.code, x.level, kAtom) + "[" + Join(parts, ", ") + "]", shape));
    start += s;
  }
  return list;
}

Expected<Val> TfSplit(Translator& t, Bound& b) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg("value"));
  K2T_ASSIGN_OR_RETURN(std::int64_t axis_arg, b.IntArg("axis", 0));
  K2T_ASSIGN_OR_RETURN(int axis, t.Axis(axis_arg, x.shape.size(), b.function));
  const Val& how = b.Get("num_or_size_splits");
  const std::int64_t size = x.shape[static_cast<std::size_t>(axis)];
  std::vector<std::int64_t> sizes;
  if (how.kind == VKind::kInt && !how.dynamic()) {
    if (how.integer <= 0 || size < 0 || size % how.integer != 0) {
      return MakeError("{}: an axis of size {} does not split into {} equal pieces", b.function,
                       size, how.integer);
    }
    sizes.assign(static_cast<std::size_t>(how.integer), size / how.integer);
  } else {
    K2T_ASSIGN_OR_RETURN(sizes, b.IntsArg("num_or_size_splits"));
    for (std::int64_t& s : sizes) {
      if (s != -1) continue;
      std::int64_t rest = 0;
      for (std::int64_t other : sizes) rest += other == -1 ? 0 : other;
      if (size < 0) return MakeError("{}: a -1 piece of an axis of unknown size", b.function);
      s = size - rest;
    }
  }
  return SplitAt(t, x, axis, sizes, b.function);
}

Expected<Val> OpsSplit(Translator& t, Bound& b) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg("x"));
  K2T_ASSIGN_OR_RETURN(std::int64_t axis_arg, b.IntArg("axis", 0));
  K2T_ASSIGN_OR_RETURN(int axis, t.Axis(axis_arg, x.shape.size(), b.function));
  const std::int64_t size = x.shape[static_cast<std::size_t>(axis)];
  if (size < 0) return MakeError("{}: the axis's size is not known", b.function);
  const Val& how = b.Get("indices_or_sections");
  std::vector<std::int64_t> sizes;
  if (how.kind == VKind::kInt && !how.dynamic()) {
    if (how.integer <= 0 || size % how.integer != 0) {
      return MakeError("{}: an axis of size {} does not split into {} equal pieces", b.function,
                       size, how.integer);
    }
    sizes.assign(static_cast<std::size_t>(how.integer), size / how.integer);
  } else {
    // Split points, as NumPy's array_split takes them.
    K2T_ASSIGN_OR_RETURN(auto points, b.IntsArg("indices_or_sections"));
    std::int64_t previous = 0;
    points.push_back(size);
    for (std::int64_t p : points) {
      const std::int64_t at = std::clamp<std::int64_t>(p < 0 ? p + size : p, 0, size);
      sizes.push_back(std::max<std::int64_t>(at - previous, 0));
      previous = std::max(previous, at);
    }
  }
  return SplitAt(t, x, axis, sizes, b.function);
}

// Image resizing of a channels-last (N, H, W, C) tensor to `size` with
// F.interpolate's `mode`; `corners` is its align_corners, if the mode takes one.
Expected<Val> Resize(Translator& t, const Val& x, const Val& size_val, const std::string& mode,
                     const std::string& function, std::optional<bool> corners = std::nullopt) {
  t.NotElementwise();
  if (x.shape.size() != 4) {
    return MakeError("{} of a tensor of rank {} is not translated (4 expected)", function,
                     x.shape.size());
  }
  if (size_val.kind != VKind::kSeq || size_val.items.size() != 2) {
    return MakeError("{}: size must be two ints, found {}", function, Describe(size_val));
  }
  std::vector<std::string> parts;
  Shape shape = x.shape;
  for (std::size_t k = 0; k < 2; ++k) {
    const Val& item = size_val.items[k];
    if (item.kind != VKind::kInt) {
      return MakeError("{}: size must be two ints, found {}", function, Describe(size_val));
    }
    K2T_ASSIGN_OR_RETURN(std::string text, Literal(item));
    parts.push_back(text);
    shape[k + 1] = item.dynamic() ? -1 : item.integer;
  }
  const std::string align =
      corners ? fmt::format(", align_corners={}", *corners ? "True" : "False") : "";
  // (N, H, W, C) -> (N, C, H, W) for F.interpolate, and back.
  return Tensor(fmt::format("F.interpolate({}.permute(0, 3, 1, 2), size=({}, {}), "
                            "mode={}{}).permute(0, 2, 3, 1)",
                            Wrap(x.code, x.level, kAtom), parts[0], parts[1], PythonString(mode),
                            align),
                shape);
}

// TensorFlow 2's resize: half-pixel centers (bilinear as PyTorch's with
// align_corners=False; nearest as PyTorch's nearest-exact), no antialiasing.
Expected<Val> TfResize(Translator& t, Bound& b) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg("images"));
  K2T_ASSIGN_OR_RETURN(std::string method, b.StrArg("method", "bilinear"));
  K2T_ASSIGN_OR_RETURN(bool antialias, b.BoolArg("antialias", false));
  K2T_ASSIGN_OR_RETURN(bool aspect, b.BoolArg("preserve_aspect_ratio", false));
  if (antialias || aspect) {
    return MakeError("{} with antialias or preserve_aspect_ratio is not translated", b.function);
  }
  if (!t.flavor().tf2_resize) {
    // TensorFlow 1's tf.image.resize had no half-pixel centers.
    if (method == "nearest") return Resize(t, x, b.Get("size"), "nearest", b.function);
    return MakeError("{} method '{}' under TensorFlow 1 (no half-pixel centers) has no PyTorch "
                     "equivalent",
                     b.function, PrintableText(method, 20));
  }
  if (method == "bilinear") return Resize(t, x, b.Get("size"), "bilinear", b.function, false);
  if (method == "nearest") return Resize(t, x, b.Get("size"), "nearest-exact", b.function);
  return MakeError("{} method '{}' is not translated (bilinear and nearest are)", b.function,
                   PrintableText(method, 20));
}

// TensorFlow 1's resize_images and resize_bilinear / resize_nearest_neighbor.
Expected<Val> TfLegacyResize(Translator& t, Bound& b, const std::string& fixed_method) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg("images"));
  std::string method = fixed_method;
  if (method.empty()) {
    const Val& m = b.Get("method");
    if (m.kind == VKind::kNone) method = "bilinear";
    else if (m.kind == VKind::kStr) method = m.text;
    else if (m.kind == VKind::kInt && !m.dynamic() && m.integer >= 0 && m.integer <= 1) {
      method = m.integer == 0 ? "bilinear" : "nearest";  // TF 1's ResizeMethod numbers
    } else {
      return b.Bad("method", "a resize method");
    }
  }
  K2T_ASSIGN_OR_RETURN(bool corners, b.BoolArg("align_corners", false));
  K2T_ASSIGN_OR_RETURN(bool half_pixel, b.BoolArg("half_pixel_centers", false));
  if (method == "bilinear" && (corners || half_pixel)) {
    return Resize(t, x, b.Get("size"), "bilinear", b.function, corners);
  }
  if (method == "nearest" && !corners) {
    return Resize(t, x, b.Get("size"), half_pixel ? "nearest-exact" : "nearest", b.function);
  }
  return MakeError("{} with method '{}' and align_corners={} has no PyTorch equivalent",
                   b.function, PrintableText(method, 20), corners ? "True" : "False");
}

// keras.backend.resize_images: integer factors, channels last or first.
Expected<Val> KerasResizeImages(Translator& t, Bound& b) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg("x"));
  K2T_ASSIGN_OR_RETURN(std::int64_t fh, b.IntArg("height_factor", 1));
  K2T_ASSIGN_OR_RETURN(std::int64_t fw, b.IntArg("width_factor", 1));
  K2T_ASSIGN_OR_RETURN(std::string format, b.StrArg("data_format", ""));
  K2T_ASSIGN_OR_RETURN(std::string method, b.StrArg("interpolation", "nearest"));
  if (format != "channels_last") {
    return MakeError("{} with data_format '{}' is not translated (channels_last is)", b.function,
                     PrintableText(format, 20));
  }
  if (x.shape.size() != 4 || x.shape[1] < 0 || x.shape[2] < 0 || fh <= 0 || fw <= 0) {
    return MakeError("{} needs a tensor (N, H, W, C) of known H and W and positive factors",
                     b.function);
  }
  const Val size = Seq({Int(x.shape[1] * fh), Int(x.shape[2] * fw)}, false);
  // With whole factors every convention of nearest picks the same pixels.
  if (method == "nearest") return Resize(t, x, size, "nearest", b.function);
  if (method == "bilinear" && t.flavor().tf2_resize) {
    return Resize(t, x, size, "bilinear", b.function, false);
  }
  return MakeError("{} with interpolation '{}' is not translated for this Keras version",
                   b.function, PrintableText(method, 20));
}

Expected<Val> KerasOpsResize(Translator& t, Bound& b) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg("images"));
  K2T_ASSIGN_OR_RETURN(std::string method, b.StrArg("interpolation", "bilinear"));
  K2T_ASSIGN_OR_RETURN(bool antialias, b.BoolArg("antialias", false));
  K2T_ASSIGN_OR_RETURN(bool crop, b.BoolArg("crop_to_aspect_ratio", false));
  K2T_ASSIGN_OR_RETURN(bool pad, b.BoolArg("pad_to_aspect_ratio", false));
  K2T_ASSIGN_OR_RETURN(std::string format, b.StrArg("data_format", "channels_last"));
  if (antialias || crop || pad || format != "channels_last") {
    return MakeError("{} with antialias, aspect-ratio options or channels_first is not "
                     "translated",
                     b.function);
  }
  if (method == "bilinear") return Resize(t, x, b.Get("size"), "bilinear", b.function, false);
  if (method == "nearest") return Resize(t, x, b.Get("size"), "nearest-exact", b.function);
  return MakeError("{} interpolation '{}' is not translated", b.function,
                   PrintableText(method, 20));
}

Expected<Val> KerasRelu(Translator&, Bound& b) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg("x"));
  K2T_ASSIGN_OR_RETURN(auto alpha, b.NumberArg("alpha"));
  K2T_ASSIGN_OR_RETURN(auto max_value, b.NumberArg("max_value"));
  K2T_ASSIGN_OR_RETURN(auto threshold, b.NumberArg("threshold"));
  if (alpha.value_or(0.0) != 0.0 || threshold.value_or(0.0) != 0.0) {
    return MakeError("{} with alpha or threshold is not translated", b.function);
  }
  if (max_value) {
    return Tensor(fmt::format("torch.clamp({}, min=0.0, max={})", x.code,
                              PythonFloat(*max_value)),
                  x.shape);
  }
  return Tensor(fmt::format("F.relu({})", x.code), x.shape);
}

Expected<Val> Dot(Translator& t, Bound& b) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg("x"));
  K2T_ASSIGN_OR_RETURN(Val y, b.TensorArg("y"));
  // keras.backend.dot contracts x's last axis with y's second-to-last, a
  // matrix product only when y is a matrix.
  if (y.shape.size() != 2) {
    return MakeError("{} with a second operand of rank {} is not translated", b.function,
                     y.shape.size());
  }
  return t.MatMul(x, y);
}

Expected<Val> RepeatElements(Translator& t, Bound& b, const std::string& x_name,
                             const std::string& reps_name, const std::string& axis_name) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg(x_name));
  t.NotElementwise();
  K2T_ASSIGN_OR_RETURN(std::int64_t reps, b.IntArg(reps_name, 1));
  if (!b.Has(axis_name)) return MakeError("{} without an axis is not translated", b.function);
  K2T_ASSIGN_OR_RETURN(std::int64_t axis_arg, b.IntArg(axis_name, 0));
  K2T_ASSIGN_OR_RETURN(int axis, t.Axis(axis_arg, x.shape.size(), b.function));
  if (reps < 0) return MakeError("{}: negative repetition {}", b.function, reps);
  Shape shape = x.shape;
  std::int64_t& d = shape[static_cast<std::size_t>(axis)];
  d = d < 0 ? -1 : d * reps;
  return Tensor(fmt::format("torch.repeat_interleave({}, {}, dim={})", x.code, reps, axis), shape);
}

Expected<Val> LikeFunction(Bound& b, const std::string& x_name, const char* torch_function) {
  K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg(x_name));
  return Tensor(fmt::format("{}({})", torch_function, x.code), x.shape);
}

// Python built-ins on numbers and sequences.
Expected<Val> Builtin(const std::string& name, Bound& b) {
  const Val& x = b.Get("x");
  if (name == "len") {
    if (x.kind == VKind::kSeq || x.kind == VKind::kTensorList) {
      return Int(static_cast<std::int64_t>(x.items.size()));
    }
    return b.Bad("x", "a sequence");
  }
  if (!x.numeric()) return b.Bad("x", "a number");
  if (name == "float") return Float(x.AsDouble());
  if (name == "int") {
    if (x.kind != VKind::kFloat) return Int(x.integer);
    if (!std::isfinite(x.number) || std::fabs(x.number) > 9e18) {
      return MakeError("int() of {} is not translated", Describe(x));
    }
    return Int(static_cast<std::int64_t>(x.number));
  }
  if (name == "abs") {
    return x.kind == VKind::kFloat ? Float(std::fabs(x.number))
                                   : Int(x.integer < 0 ? -x.integer : x.integer);
  }
  return MakeError("the built-in {} is not translated", name);
}

void AddElementWise(std::map<std::string, FunctionSpec>& f, const std::string& name,
                    const Params& params, const std::string& format,
                    std::function<double(double)> on_number = nullptr) {
  f[name] = {params, 1, ElementWise(format, std::move(on_number))};
}

std::map<std::string, FunctionSpec> BuildFunctions() {
  std::map<std::string, FunctionSpec> f;
  const Params x = {"x"};
  const Params tf_x = {"x", "name"};

  // Element-wise math. keras.backend.sqrt clips negative values to 0 first.
  struct Unary {
    const char* name;
    const char* format;
    double (*number)(double);
  };
  const std::vector<Unary> unary = {
      {"abs", "torch.abs({})", [](double v) { return std::fabs(v); }},
      {"exp", "torch.exp({})", [](double v) { return std::exp(v); }},
      {"log", "torch.log({})", [](double v) { return std::log(v); }},
      {"log1p", "torch.log1p({})", nullptr},
      {"square", "torch.square({})", [](double v) { return v * v; }},
      {"sigmoid", "torch.sigmoid({})", nullptr},
      {"tanh", "torch.tanh({})", nullptr},
      {"sign", "torch.sign({})", nullptr},
      {"round", "torch.round({})", nullptr},
      {"floor", "torch.floor({})", nullptr},
      {"ceil", "torch.ceil({})", nullptr},
      {"sin", "torch.sin({})", nullptr},
      {"cos", "torch.cos({})", nullptr},
      {"softplus", "F.softplus({})", nullptr},
      {"softsign", "F.softsign({})", nullptr},
      {"rsqrt", "torch.rsqrt({})", nullptr},
      {"reciprocal", "torch.reciprocal({})", nullptr},
  };
  for (const Unary& u : unary) {
    AddElementWise(f, std::string("keras.backend.") + u.name, x, u.format, u.number);
    AddElementWise(f, std::string("keras.ops.") + u.name, x, u.format, u.number);
    AddElementWise(f, std::string("tf.") + u.name, tf_x, u.format, u.number);
    AddElementWise(f, std::string("tf.math.") + u.name, tf_x, u.format, u.number);
  }
  for (const char* name : {"tf.negative", "tf.math.negative", "keras.ops.negative"}) {
    f[name] = {tf_x, 1, [](Translator& t, Bound& b) -> Expected<Val> {
                 return t.Unary(UnaryOp::kNegative, b.Get("x"));
               }};
  }
  AddElementWise(f, "keras.backend.sqrt", x, "torch.sqrt(torch.clamp({}, min=0.0))",
                 [](double v) { return std::sqrt(std::max(v, 0.0)); });
  for (const char* name : {"keras.ops.sqrt", "tf.sqrt", "tf.math.sqrt"}) {
    AddElementWise(f, name, name[0] == 'k' ? x : tf_x, "torch.sqrt({})",
                   [](double v) { return std::sqrt(v); });
  }
  for (const char* name : {"math.sqrt", "np.sqrt"}) {
    AddElementWise(f, name, x, "torch.sqrt({})", [](double v) { return std::sqrt(v); });
  }
  for (const char* name : {"math.exp", "np.exp"}) {
    AddElementWise(f, name, x, "torch.exp({})", [](double v) { return std::exp(v); });
  }
  for (const char* name : {"math.log", "np.log"}) {
    AddElementWise(f, name, x, "torch.log({})", [](double v) { return std::log(v); });
  }
  AddElementWise(f, "keras.ops.relu", x, "F.relu({})");
  AddElementWise(f, "keras.ops.relu6", x, "F.relu6({})");
  f["keras.backend.relu"] = {{"x", "alpha", "max_value", "threshold"}, 1, KerasRelu};
  // tf.nn's activations name their tensor `features`, except sigmoid and tanh.
  for (const char* op : {"relu", "relu6", "sigmoid", "tanh", "softplus", "elu", "selu", "swish",
                         "silu", "softsign"}) {
    const std::string name = op;
    const std::string format = name == "sigmoid" || name == "tanh" ? "torch." + name + "({})"
                               : name == "swish"                    ? "F.silu({})"
                                                                    : "F." + name + "({})";
    const std::string arg = name == "sigmoid" || name == "tanh" ? "x" : "features";
    f["tf.nn." + name] = {{arg, "name"}, 1, [format, arg](Translator&, Bound& b) -> Expected<Val> {
                            K2T_ASSIGN_OR_RETURN(Val v, b.TensorArg(arg));
                            return Tensor(fmt::format(fmt::runtime(format), v.code), v.shape);
                          }};
  }
  for (const char* op : {"elu", "selu", "silu", "swish"}) {
    AddElementWise(f, std::string("keras.ops.") + op, x,
                   std::string(op) == "swish" ? "F.silu({})" : std::string("F.") + op + "({})");
  }
  AddElementWise(f, "keras.backend.elu", x, "F.elu({})");
  AddElementWise(f, "keras.backend.hard_sigmoid", x,
                 "torch.clamp(0.2 * {} + 0.5, min=0.0, max=1.0)");

  // Arithmetic as functions.
  struct Arith {
    const char* suffix;
    BinaryOp op;
  };
  for (const Arith& a : {Arith{"add", BinaryOp::kAdd}, Arith{"subtract", BinaryOp::kSubtract},
                         Arith{"multiply", BinaryOp::kMultiply},
                         Arith{"divide", BinaryOp::kTrueDivide},
                         Arith{"truediv", BinaryOp::kTrueDivide}}) {
    f[std::string("tf.") + a.suffix] = {{"x", "y", "name"}, 2, BinaryFunction(a.op, "x", "y")};
    f[std::string("tf.math.") + a.suffix] = {{"x", "y", "name"}, 2,
                                             BinaryFunction(a.op, "x", "y")};
    f[std::string("keras.ops.") + a.suffix] = {{"x1", "x2"}, 2,
                                               BinaryFunction(a.op, "x1", "x2")};
  }
  f["keras.backend.pow"] = {{"x", "a"}, 2, BinaryFunction(BinaryOp::kPower, "x", "a")};
  f["tf.pow"] = {{"x", "y", "name"}, 2, BinaryFunction(BinaryOp::kPower, "x", "y")};
  f["tf.math.pow"] = f["tf.pow"];
  f["keras.ops.power"] = {{"x1", "x2"}, 2, BinaryFunction(BinaryOp::kPower, "x1", "x2")};
  f["tf.matmul"] = {{"a", "b"}, 2, [](Translator& t, Bound& b) -> Expected<Val> {
                      K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg("a"));
                      K2T_ASSIGN_OR_RETURN(Val y, b.TensorArg("b"));
                      return t.MatMul(x, y);
                    }};
  f["tf.linalg.matmul"] = f["tf.matmul"];
  f["keras.ops.matmul"] = {{"x1", "x2"}, 2, [](Translator& t, Bound& b) -> Expected<Val> {
                             K2T_ASSIGN_OR_RETURN(Val x, b.TensorArg("x1"));
                             K2T_ASSIGN_OR_RETURN(Val y, b.TensorArg("x2"));
                             return t.MatMul(x, y);
                           }};
  f["keras.backend.dot"] = {{"x", "y"}, 2, Dot};
  for (bool maximum : {true, false}) {
    const std::string name = maximum ? "maximum" : "minimum";
    f["keras.backend." + name] = {{"x", "y"}, 2, Extremum(maximum, "x", "y")};
    f["tf." + name] = {{"x", "y", "name"}, 2, Extremum(maximum, "x", "y")};
    f["tf.math." + name] = f["tf." + name];
    f["keras.ops." + name] = {{"x1", "x2"}, 2, Extremum(maximum, "x1", "x2")};
    f["builtins." + std::string(maximum ? "max" : "min")] = {{"x", "y"}, 2,
                                                             Extremum(maximum, "x", "y")};
  }

  // Reductions.
  struct Reduce {
    const char* keras;
    const char* tf;
    const char* torch;
    bool single;
  };
  for (const Reduce& r : {Reduce{"mean", "reduce_mean", "torch.mean", false},
                          Reduce{"sum", "reduce_sum", "torch.sum", false},
                          Reduce{"max", "reduce_max", "torch.amax", false},
                          Reduce{"min", "reduce_min", "torch.amin", false},
                          Reduce{"prod", "reduce_prod", "torch.prod", true}}) {
    f[std::string("keras.backend.") + r.keras] = {{"x", "axis", "keepdims"}, 1,
                                                  Reduction(r.torch, r.single)};
    f[std::string("keras.ops.") + r.keras] = {{"x", "axis", "keepdims"}, 1,
                                              Reduction(r.torch, r.single)};
    f[std::string("tf.") + r.tf] = {{"input_tensor", "axis", "keepdims", "name"}, 1,
                                    Reduction(r.torch, r.single)};
    f[std::string("tf.math.") + r.tf] = f[std::string("tf.") + r.tf];
  }

  // Shapes and axes.
  f["keras.backend.int_shape"] = {x, 1, [](Translator& t, Bound& b) -> Expected<Val> {
                                    K2T_ASSIGN_OR_RETURN(Val v, b.TensorArg("x"));
                                    return t.StaticShape(v);
                                  }};
  for (const char* name : {"keras.backend.shape", "keras.ops.shape"}) {
    f[name] = {x, 1, [](Translator& t, Bound& b) -> Expected<Val> {
                 K2T_ASSIGN_OR_RETURN(Val v, b.TensorArg("x"));
                 return t.RuntimeShape(v);
               }};
  }
  f["tf.shape"] = {{"input", "out_type", "name"}, 1, [](Translator& t, Bound& b) -> Expected<Val> {
                     K2T_ASSIGN_OR_RETURN(Val v, b.TensorArg("input"));
                     return t.RuntimeShape(v);
                   }};
  f["keras.backend.ndim"] = {x, 1, [](Translator&, Bound& b) -> Expected<Val> {
                               K2T_ASSIGN_OR_RETURN(Val v, b.TensorArg("x"));
                               return Int(static_cast<std::int64_t>(v.shape.size()));
                             }};
  f["keras.backend.expand_dims"] = {{"x", "axis"}, 1, [](Translator& t, Bound& b) {
                                      auto axis = b.IntArg("axis", -1);
                                      if (!axis.ok()) return Expected<Val>(axis.error());
                                      return ExpandDims(t, b, "x", *axis);
                                    }};
  f["keras.ops.expand_dims"] = {{"x", "axis"}, 2, f["keras.backend.expand_dims"].handler};
  f["tf.expand_dims"] = {{"input", "axis", "name"}, 2, [](Translator& t, Bound& b) {
                           auto axis = b.IntArg("axis", 0);
                           if (!axis.ok()) return Expected<Val>(axis.error());
                           return ExpandDims(t, b, "input", *axis);
                         }};
  f["keras.backend.squeeze"] = {{"x", "axis"}, 2, [](Translator& t, Bound& b) {
                                  return Squeeze(t, b, "x", "axis");
                                }};
  f["keras.ops.squeeze"] = {{"x", "axis"}, 1, f["keras.backend.squeeze"].handler};
  f["tf.squeeze"] = {{"input", "axis", "name"}, 1, [](Translator& t, Bound& b) {
                       return Squeeze(t, b, "input", "axis");
                     }};
  f["keras.backend.concatenate"] = {{"tensors", "axis"}, 1, [](Translator& t, Bound& b) {
                                      auto axis = b.IntArg("axis", -1);
                                      if (!axis.ok()) return Expected<Val>(axis.error());
                                      return Concatenate(t, b, "tensors", *axis, false);
                                    }};
  f["keras.ops.concatenate"] = {{"xs", "axis"}, 1, [](Translator& t, Bound& b) {
                                  auto axis = b.IntArg("axis", 0);
                                  if (!axis.ok()) return Expected<Val>(axis.error());
                                  return Concatenate(t, b, "xs", *axis, false);
                                }};
  f["tf.concat"] = {{"values", "axis", "name"}, 2, [](Translator& t, Bound& b) {
                      auto axis = b.IntArg("axis", 0);
                      if (!axis.ok()) return Expected<Val>(axis.error());
                      return Concatenate(t, b, "values", *axis, false);
                    }};
  for (const char* name : {"keras.backend.stack", "keras.ops.stack"}) {
    f[name] = {{"x", "axis"}, 1, [](Translator& t, Bound& b) {
                 auto axis = b.IntArg("axis", 0);
                 if (!axis.ok()) return Expected<Val>(axis.error());
                 return Concatenate(t, b, "x", *axis, true);
               }};
  }
  f["tf.stack"] = {{"values", "axis", "name"}, 1, [](Translator& t, Bound& b) {
                     auto axis = b.IntArg("axis", 0);
                     if (!axis.ok()) return Expected<Val>(axis.error());
                     return Concatenate(t, b, "values", *axis, true);
                   }};
  f["keras.backend.reshape"] = {{"x", "shape"}, 2, [](Translator& t, Bound& b) {
                                  return Reshape(t, b, "x", "shape");
                                }};
  f["keras.ops.reshape"] = {{"x", "newshape"}, 2, [](Translator& t, Bound& b) {
                              return Reshape(t, b, "x", "newshape");
                            }};
  f["tf.reshape"] = {{"tensor", "shape", "name"}, 2, [](Translator& t, Bound& b) {
                       return Reshape(t, b, "tensor", "shape");
                     }};
  f["keras.backend.permute_dimensions"] = {{"x", "pattern"}, 2, [](Translator& t, Bound& b) {
                                             return Permute(t, b, "x", "pattern");
                                           }};
  f["keras.ops.transpose"] = {{"x", "axes"}, 1, [](Translator& t, Bound& b) {
                                return Permute(t, b, "x", "axes");
                              }};
  f["tf.transpose"] = {{"a", "perm", "conjugate", "name"}, 1, [](Translator& t, Bound& b) {
                         return Permute(t, b, "a", "perm");
                       }};
  f["keras.backend.batch_flatten"] = {x, 1, [](Translator& t, Bound& b) -> Expected<Val> {
                                        K2T_ASSIGN_OR_RETURN(Val v, b.TensorArg("x"));
                                        t.NotElementwise();
                                        std::int64_t total = 1;
                                        for (std::size_t k = 1; k < v.shape.size(); ++k) {
                                          total = v.shape[k] < 0 || total < 0 ? -1
                                                                              : total * v.shape[k];
                                        }
                                        return Tensor(fmt::format("torch.flatten({}, 1)", v.code),
                                                      {v.shape.empty() ? -1 : v.shape[0], total});
                                      }};
  f["keras.backend.tile"] = {{"x", "n"}, 2, [](Translator& t, Bound& b) {
                               return Tile(t, b, "x", "n");
                             }};
  f["keras.ops.tile"] = {{"x", "repeats"}, 2, [](Translator& t, Bound& b) {
                           return Tile(t, b, "x", "repeats");
                         }};
  f["tf.tile"] = {{"input", "multiples", "name"}, 2, [](Translator& t, Bound& b) {
                    return Tile(t, b, "input", "multiples");
                  }};
  f["keras.backend.repeat_elements"] = {{"x", "rep", "axis"}, 3, [](Translator& t, Bound& b) {
                                          return RepeatElements(t, b, "x", "rep", "axis");
                                        }};
  f["keras.ops.repeat"] = {{"x", "repeats", "axis"}, 2, [](Translator& t, Bound& b) {
                             return RepeatElements(t, b, "x", "repeats", "axis");
                           }};
  f["tf.split"] = {{"value", "num_or_size_splits", "axis", "num", "name"}, 2, TfSplit};
  f["keras.ops.split"] = {{"x", "indices_or_sections", "axis"}, 2, OpsSplit};

  // Normalization, softmax, clipping, casting.
  f["keras.backend.l2_normalize"] = {{"x", "axis"}, 1, [](Translator& t, Bound& b) {
                                       return L2Normalize(t, b, "x", 1e-12);
                                     }};
  for (const char* name : {"tf.math.l2_normalize", "tf.nn.l2_normalize",
                           "tf.linalg.l2_normalize"}) {
    f[name] = {{"x", "axis", "epsilon", "name", "dim"}, 1,
               [](Translator& t, Bound& b) -> Expected<Val> {
                 K2T_ASSIGN_OR_RETURN(auto epsilon, b.NumberArg("epsilon"));
                 if (b.Has("dim")) return MakeError("{}: 'dim' is not translated", b.function);
                 return L2Normalize(t, b, "x", epsilon.value_or(1e-12));
               }};
  }
  for (const char* name : {"keras.backend.softmax", "keras.ops.softmax"}) {
    f[name] = {{"x", "axis"}, 1, [](Translator& t, Bound& b) {
                 auto axis = b.IntArg("axis", -1);
                 if (!axis.ok()) return Expected<Val>(axis.error());
                 return Softmax(t, b, "x", *axis, false);
               }};
  }
  for (const char* name : {"tf.nn.softmax", "tf.math.softmax", "tf.nn.log_softmax",
                           "tf.math.log_softmax"}) {
    const bool log = std::string(name).find("log_") != std::string::npos;
    f[name] = {{"logits", "axis", "name"}, 1, [log](Translator& t, Bound& b) {
                 auto axis = b.IntArg("axis", -1);
                 if (!axis.ok()) return Expected<Val>(axis.error());
                 return Softmax(t, b, "logits", *axis, log);
               }};
  }
  f["keras.ops.log_softmax"] = {{"x", "axis"}, 1, [](Translator& t, Bound& b) {
                                  auto axis = b.IntArg("axis", -1);
                                  if (!axis.ok()) return Expected<Val>(axis.error());
                                  return Softmax(t, b, "x", *axis, true);
                                }};
  f["keras.backend.clip"] = {{"x", "min_value", "max_value"}, 3, [](Translator& t, Bound& b) {
                               return Clip(t, b, "x", "min_value", "max_value", true);
                             }};
  f["keras.ops.clip"] = {{"x", "x_min", "x_max"}, 3, [](Translator& t, Bound& b) {
                           return Clip(t, b, "x", "x_min", "x_max", false);
                         }};
  f["tf.clip_by_value"] = {{"t", "clip_value_min", "clip_value_max", "name"}, 3,
                           [](Translator& t, Bound& b) {
                             return Clip(t, b, "t", "clip_value_min", "clip_value_max", false);
                           }};
  f["keras.backend.cast"] = {{"x", "dtype"}, 2, [](Translator& t, Bound& b) {
                               return Cast(t, b, "x");
                             }};
  f["keras.ops.cast"] = f["keras.backend.cast"];
  f["tf.cast"] = f["keras.backend.cast"];
  f["tf.cast"].params = {"x", "dtype", "name"};
  for (const char* prefix : {"keras.backend.", "keras.ops.", "tf."}) {
    const bool tf = std::string(prefix) == "tf.";
    const Params like = tf ? Params{"input", "dtype", "name"} : Params{"x", "dtype"};
    f[std::string(prefix) + "zeros_like"] = {like, 1, [tf](Translator&, Bound& b) {
                                               return LikeFunction(b, tf ? "input" : "x",
                                                                   "torch.zeros_like");
                                             }};
    f[std::string(prefix) + "ones_like"] = {like, 1, [tf](Translator&, Bound& b) {
                                              return LikeFunction(b, tf ? "input" : "x",
                                                                  "torch.ones_like");
                                            }};
  }
  f["keras.backend.epsilon"] = {{}, 0, [](Translator& t, Bound&) -> Expected<Val> {
                                  t.Note("keras.backend.epsilon() was taken as its default "
                                         "1e-07 (a keras.json setting is not in the file)");
                                  return Float(1e-7);
                                }};
  f["keras.backend.floatx"] = {{}, 0, [](Translator&, Bound&) -> Expected<Val> {
                                 return Str("float32");
                               }};

  // Image resizing.
  f["tf.image.resize"] = {{"images", "size", "method", "preserve_aspect_ratio", "antialias",
                           "name"},
                          2, TfResize};
  for (const char* name : {"tf.image.resize_images", "tf.v1.image.resize_images",
                           "tf.v1.image.resize"}) {
    f[name] = {{"images", "size", "method", "align_corners", "preserve_aspect_ratio", "name"},
               2, [](Translator& t, Bound& b) { return TfLegacyResize(t, b, ""); }};
  }
  for (const char* name : {"tf.image.resize_bilinear", "tf.v1.image.resize_bilinear"}) {
    f[name] = {{"images", "size", "align_corners", "name", "half_pixel_centers"}, 2,
               [](Translator& t, Bound& b) { return TfLegacyResize(t, b, "bilinear"); }};
  }
  for (const char* name : {"tf.image.resize_nearest_neighbor",
                           "tf.v1.image.resize_nearest_neighbor"}) {
    f[name] = {{"images", "size", "align_corners", "name", "half_pixel_centers"}, 2,
               [](Translator& t, Bound& b) { return TfLegacyResize(t, b, "nearest"); }};
  }
  f["keras.backend.resize_images"] = {{"x", "height_factor", "width_factor", "data_format",
                                       "interpolation"},
                                      4, KerasResizeImages};
  f["keras.ops.image.resize"] = {{"images", "size", "interpolation", "antialias",
                                  "crop_to_aspect_ratio", "pad_to_aspect_ratio", "fill_mode",
                                  "fill_value", "data_format"},
                                 2, KerasOpsResize};

  for (const char* name : {"float", "int", "len", "abs"}) {
    const std::string builtin = name;
    f["builtins." + builtin] = {x, 1, [builtin](Translator&, Bound& b) {
                                  return Builtin(builtin, b);
                                }};
  }
  return f;
}

const std::map<std::string, FunctionSpec>& Functions() {
  static const std::map<std::string, FunctionSpec> functions = BuildFunctions();
  return functions;
}

}  // namespace

Expected<Translation> TranslateLambda(const LambdaCall& call) {
  Translation out;
  Translator translator(call, out);
  K2T_ASSIGN_OR_RETURN(Val result, translator.Eval(*call.function->body));

  // One tensor, or a list or tuple of tensors for a Lambda with several outputs.
  std::vector<Val> tensors;
  if (result.kind == VKind::kTensor) {
    tensors.push_back(result);
  } else if (result.kind == VKind::kSeq || result.kind == VKind::kTensorList) {
    tensors = result.items;
  }
  if (tensors.empty()) {
    return MakeError("the function returns {}, not a tensor", Describe(result));
  }
  for (const Val& tensor : tensors) {
    if (tensor.kind != VKind::kTensor) {
      return MakeError("the function returns {}, not a tensor", Describe(tensor));
    }
    out.outputs.push_back({tensor.code, tensor.shape});
  }
  return out;
}

bool IsTranslatedFunction(const std::string& path) {
  return Functions().count(Canonical(path)) > 0;
}

}  // namespace k2t::pyexpr
