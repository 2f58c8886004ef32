//===- layers/ops.cc - keras.ops calls recorded in Keras 3 graphs ----------===//
//
// In Keras 3, `x + 3.0`, `x * y` or `ops.exp(x)` on symbolic tensors become
// graph nodes whose class is the operation (module keras.src.ops.*); their
// arguments may be constants. They follow NumPy broadcasting (aligned on the
// right), unlike the merge layers, so tensors of different ranks are combined
// in Keras's own axis order.
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "layers/padding.h"
#include "layers/registry.h"
#include "support/python_text.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

constexpr const char* kConstantSource = R"(class _KerasConstant(nn.Module):
    """A constant tensor that Keras recorded in the model's config."""

    def __init__(self, shape: tuple) -> None:
        super().__init__()
        self.register_buffer("value", torch.empty(shape))
)";

// One positional argument: input k, a number, or a constant tensor.
struct Operand {
  int input = -1;
  std::string constant;  // Python literal of a number
  Shape tensor_shape;    // a constant tensor: its shape and float32 values
  std::vector<float> tensor_values;
  bool is_tensor = false;
};

// Keras 3 records a concrete tensor argument (positions computed with
// keras.ops.arange and embedded, for example) by value:
// {"class_name": "__tensor__", "config": {"value": nested lists, "dtype": ...}}.
bool IsConstantTensor(const Json& arg) {
  return arg.is_object() && arg.value("class_name", Json()) == "__tensor__" &&
         arg.contains("config") && arg["config"].is_object();
}

Status ReadNested(const Json& value, std::size_t depth, Operand& out) {
  if (!value.is_array()) {
    const auto number = NumberValue(value);
    if (!number || depth != out.tensor_shape.size()) {
      return MakeError("a constant tensor argument is not a rectangular array of numbers");
    }
    out.tensor_values.push_back(static_cast<float>(*number));
    return Status::Ok();
  }
  const auto size = static_cast<std::int64_t>(value.size());
  if (depth == out.tensor_shape.size()) {
    if (!out.tensor_values.empty()) {
      return MakeError("a constant tensor argument is not a rectangular array of numbers");
    }
    out.tensor_shape.push_back(size);
  } else if (out.tensor_shape[depth] != size) {
    return MakeError("a constant tensor argument is not a rectangular array of numbers");
  }
  for (const Json& item : value) K2T_RETURN_IF_ERROR(ReadNested(item, depth + 1, out));
  return Status::Ok();
}

Expected<Operand> ConstantTensor(const Json& arg) {
  const Json& config = arg["config"];
  const std::string dtype = config.value("dtype", Json("float32")).is_string()
                                ? config["dtype"].get<std::string>()
                                : "";
  if (dtype != "float32" && dtype != "float64" && dtype != "float16") {
    return MakeError("a constant tensor argument of dtype '{}' is not supported (float32 is)",
                     PrintableText(dtype));
  }
  Operand operand;
  operand.is_tensor = true;
  K2T_RETURN_IF_ERROR(ReadNested(config.value("value", Json()), 0, operand));
  return operand;
}

Expected<std::vector<Operand>> Operands(const CallContext& call, std::size_t expected) {
  const Json& args = call.node.call ? call.node.call->args : Json();
  if (!args.is_array() || args.size() != expected) {
    return MakeError("expects {} argument(s), found {}", expected, Abbreviate(args));
  }
  std::vector<Operand> out;
  for (const Json& arg : args) {
    Operand operand;
    if (arg.is_object() && arg.contains("__input__")) {
      operand.input = arg["__input__"].get<int>();
    } else if (IsConstantTensor(arg)) {
      K2T_ASSIGN_OR_RETURN(operand, ConstantTensor(arg));
    } else if (const auto number = NumberValue(arg)) {
      operand.constant = PythonFloat(*number);
    } else {
      return MakeError("argument {} is neither a tensor nor a number", Abbreviate(arg));
    }
    out.push_back(operand);
  }
  return out;
}

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

class BinaryOpConverter : public Converter {
 public:
  explicit BinaryOpConverter(std::string format) : format_(std::move(format)) {}

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(auto operands, Operands(call, 2));
    Shape out;
    bool first = true;
    for (const Operand& o : operands) {
      if (o.input < 0 && !o.is_tensor) continue;
      const Shape& s =
          o.is_tensor ? o.tensor_shape : call.input(static_cast<std::size_t>(o.input)).shape;
      if (first) {
        out = s;
        first = false;
      } else {
        K2T_ASSIGN_OR_RETURN(out, Broadcast(out, s));
      }
    }
    return std::vector<Shape>{out};
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    // A number combines with any layout; two tensors need one layout, and
    // Keras's own when their ranks differ (NumPy aligns them on the right), as
    // does a constant tensor.
    K2T_ASSIGN_OR_RETURN(auto operands, Operands(call, 2));
    if (operands[0].is_tensor || operands[1].is_tensor) return KerasOrderPlan(call);
    if (call.input_count() == 1) return PassThroughPlan(call, current);
    const bool same_rank = call.input(0).shape.size() == call.input(1).shape.size();
    ir::Layout target = current[0].features ? ir::Layout() : current[0];
    if (!same_rank) target = ir::Layout();
    LayoutPlan plan;
    plan.inputs.assign(call.input_count(), target);
    plan.outputs = {target};
    return plan;
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    Lowering lowering;
    lowering.summary = fmt::format(fmt::runtime(format_), "a", "b");
    K2T_ASSIGN_OR_RETURN(auto operands, Operands(call, 2));
    for (const Operand& o : operands) {
      if (!o.is_tensor) continue;
      // The constant is a buffer of a small module, written with the weights.
      lowering.module = fmt::format("_KerasConstant({})", PyTuple(o.tensor_shape));
      lowering.comments.push_back("A constant tensor recorded in the Keras config.");
      lowering.definitions.emplace_back("_KerasConstant", kConstantSource);
      Param value;
      value.key = "value";
      value.shape = o.tensor_shape;
      const Operand constant = o;
      value.transform = [constant](std::vector<Tensor>) -> Expected<Tensor> {
        Tensor t(DType::kF32, constant.tensor_shape);
        std::copy(constant.tensor_values.begin(), constant.tensor_values.end(), t.as<float>());
        return t;
      };
      lowering.params.push_back(std::move(value));
    }
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(auto operands, Operands(call, 2));
    std::vector<std::string> terms;
    for (const Operand& o : operands) {
      if (o.is_tensor) {
        terms.push_back(emit.self() + ".value");
        continue;
      }
      terms.push_back(o.input >= 0 ? emit.inputs.at(static_cast<std::size_t>(o.input)) : o.constant);
    }
    // torch.maximum/minimum need tensors: compare with a scalar through clamp.
    if (format_ == "torch.maximum({}, {})" || format_ == "torch.minimum({}, {})") {
      const char* bound = format_ == "torch.maximum({}, {})" ? "min" : "max";
      if (operands[1].input < 0) return fmt::format("torch.clamp({}, {}={})", terms[0], bound, terms[1]);
      if (operands[0].input < 0) return fmt::format("torch.clamp({}, {}={})", terms[1], bound, terms[0]);
    }
    return fmt::format(fmt::runtime(format_), terms[0], terms[1]);
  }

 private:
  std::string format_;
};

class UnaryOpConverter : public Converter {
 public:
  explicit UnaryOpConverter(std::string format) : format_(std::move(format)) {}

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_RETURN_IF_ERROR(Operands(call, 1));
    if (call.input_count() != 1) return MakeError("expects one tensor argument");
    return std::vector<Shape>{call.input().shape};
  }
  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    return PassThroughPlan(call, current);
  }
  Expected<Lowering> Lower(const CallContext&) const override {
    Lowering lowering;
    lowering.summary = fmt::format(fmt::runtime(format_), "x");
    return lowering;
  }
  Expected<std::string> EmitCall(const CallContext&, const EmitContext& emit) const override {
    return fmt::format(fmt::runtime(format_), emit.inputs[0]);
  }

 private:
  std::string format_;
};

// ops.any / ops.all over one axis: Keras 3's Masking computes its mask as
// any(not_equal(x, mask_value), axis=-1). Reductions read Keras's axis order.
class ReduceOpConverter : public Converter {
 public:
  explicit ReduceOpConverter(std::string method) : method_(std::move(method)) {}

  std::set<std::string> KnownKeys() const override { return {"axis", "keepdims"}; }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_RETURN_IF_ERROR(Operands(call, 1));
    if (call.input_count() != 1) return MakeError("expects one tensor argument");
    K2T_ASSIGN_OR_RETURN(const int axis, Axis(call));
    K2T_ASSIGN_OR_RETURN(const bool keepdims, call.config().Bool("keepdims", false));
    Shape shape = call.input().shape;
    if (keepdims) {
      shape[static_cast<std::size_t>(axis)] = 1;
    } else {
      shape.erase(shape.begin() + axis);
    }
    return std::vector<Shape>{shape};
  }
  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>&) const override {
    return KerasOrderPlan(call);
  }
  Expected<Lowering> Lower(const CallContext&) const override {
    Lowering lowering;
    lowering.summary = fmt::format("x.{}(dim)", method_);
    return lowering;
  }
  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(const int axis, Axis(call));
    K2T_ASSIGN_OR_RETURN(const bool keepdims, call.config().Bool("keepdims", false));
    const int rank = static_cast<int>(call.input().shape.size());
    // Written as Keras wrote it: dim=-1 for the last axis.
    const int dim = axis == rank - 1 ? -1 : axis;
    return fmt::format("{}.{}(dim={}{})", emit.inputs[0], method_, dim,
                       keepdims ? ", keepdim=True" : "");
  }

 private:
  // The one reduced axis, non-negative. Keras's default (every axis) and
  // several axes never appear in masks; they are refused.
  static Expected<int> Axis(const CallContext& call) {
    const Json& axis = call.layer.config().value("axis", Json());
    const int rank = static_cast<int>(call.input().shape.size());
    if (!axis.is_number_integer()) {
      return MakeError("reducing over axis {} is not supported; only one axis is",
                       Abbreviate(axis));
    }
    const int a = axis.get<int>() < 0 ? axis.get<int>() + rank : axis.get<int>();
    if (a <= 0 || a >= rank) return MakeError("axis {} is not a feature axis", axis.get<int>());
    return a;
  }

  std::string method_;
};

// ops.convert_to_tensor of a tensor: Keras 3 records it around a mask it
// hands to another layer. Without a dtype it changes nothing.
class ConvertToTensorConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override { return {"dtype", "sparse", "ragged"}; }
  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_RETURN_IF_ERROR(Operands(call, 1));
    if (call.input_count() != 1) return MakeError("expects one tensor argument");
    const Json& dtype = call.layer.config().value("dtype", Json());
    if (!dtype.is_null()) {
      return MakeError("converting to dtype {} is not supported", Abbreviate(dtype));
    }
    return std::vector<Shape>{call.input().shape};
  }
  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    return PassThroughPlan(call, current);
  }
  Expected<Lowering> Lower(const CallContext&) const override {
    Lowering lowering;
    lowering.summary = "identity";
    return lowering;
  }
  bool IsIdentity(const CallContext&) const override { return true; }
  Expected<std::string> EmitCall(const CallContext&, const EmitContext& emit) const override {
    return emit.inputs[0];
  }
};

}  // namespace

void RegisterOps(Registry& registry) {
  const std::map<std::string, std::string> binary = {
      {"ops.Add", "{} + {}"},           {"ops.Subtract", "{} - {}"},
      {"ops.Multiply", "{} * {}"},      {"ops.Divide", "{} / {}"},
      {"ops.TrueDivide", "{} / {}"},    {"ops.Power", "{} ** {}"},
      {"ops.Maximum", "torch.maximum({}, {})"}, {"ops.Minimum", "torch.minimum({}, {})"},
      // Comparisons and logic give booleans (Keras 3 records mask computations).
      {"ops.NotEqual", "{} != {}"},     {"ops.Equal", "{} == {}"},
      {"ops.Greater", "{} > {}"},       {"ops.GreaterEqual", "{} >= {}"},
      {"ops.Less", "{} < {}"},          {"ops.LessEqual", "{} <= {}"},
      {"ops.LogicalAnd", "{} & {}"},    {"ops.LogicalOr", "{} | {}"},
  };
  for (const auto& [name, format] : binary) {
    registry.Add(name, std::make_shared<BinaryOpConverter>(format));
  }
  const std::map<std::string, std::string> unary = {
      {"ops.Negative", "-{}"},          {"ops.Abs", "torch.abs({})"},
      {"ops.Exp", "torch.exp({})"},     {"ops.Log", "torch.log({})"},
      {"ops.Sqrt", "torch.sqrt({})"},   {"ops.Square", "torch.square({})"},
      {"ops.Tanh", "torch.tanh({})"},   {"ops.Sigmoid", "torch.sigmoid({})"},
      {"ops.Relu", "F.relu({})"},       {"ops.Relu6", "F.relu6({})"},
      {"ops.Silu", "F.silu({})"},       {"ops.HardSigmoid", "F.hardsigmoid({})"},
      {"ops.HardSilu", "F.hardswish({})"}, {"ops.Softplus", "F.softplus({})"},
  };
  for (const auto& [name, format] : unary) {
    registry.Add(name, std::make_shared<UnaryOpConverter>(format));
  }
  // Keras 3's legacy .h5 writes no module, so its recorded mask computations
  // arrive under the bare operation name too; no Keras layer has these names.
  std::map<std::string, std::shared_ptr<const Converter>> masks = {
      {"LogicalNot", std::make_shared<UnaryOpConverter>("~{}")},
      {"Any", std::make_shared<ReduceOpConverter>("any")},
      {"All", std::make_shared<ReduceOpConverter>("all")},
      {"ConvertToTensor", std::make_shared<ConvertToTensorConverter>()},
  };
  for (const char* name : {"NotEqual", "LogicalAnd", "LogicalOr"}) {
    masks[name] = std::make_shared<BinaryOpConverter>(binary.at(std::string("ops.") + name));
  }
  for (const auto& [name, converter] : masks) {
    registry.Add("ops." + name, converter);
    registry.Add(name, converter);
  }
}

}  // namespace k2t::layers
