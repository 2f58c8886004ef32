//===- layers/tfop.cc - TensorFlow functions and slicing of tf_keras graphs -===//
//
// tf_keras records a TensorFlow function called on symbolic tensors as a
// TFOpLambda layer naming the function (tf.math.reduce_mean(x, axis=-1)),
// and `x[...]` as a SlicingOpLambda (function "__operators__.getitem",
// keyword slice_spec). Functions with a keras.ops equivalent were rewritten
// into those operations when the config was read; the others arrive here
// with the call's first argument as args[0] and its keywords as kwargs,
// tensors marked {"__input__": k}.
//
// Each call is written back as the Python expression it was,
// `tf.math.reduce_mean(inputs[0], axis=-1)` or `inputs[0][:, 1:, ...]`, and
// handed to the translator of Lambda functions (layers/pyexpr/), which knows
// these TensorFlow functions with their exact arguments and output shapes.
// A function it does not know, or arguments it does not accept, are refused
// with its reason: the layer is never guessed.
//
// The translation reads tensors in Keras's axis order. Two kinds of call are
// renumbered for a tensor kept channels first instead of permuting it back:
// slicings that keep every axis, and functions along `axis` that keep the
// other axes in place (tf.concat, tf.split, softmax, l2_normalize, reductions
// with keepdims).
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "layers/lambda.h"
#include "layers/pyexpr/decompile.h"
#include "layers/pyexpr/translate.h"
#include "layers/registry.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

using pyexpr::Expr;
using pyexpr::ExprKind;
using pyexpr::ExprPtr;
using pyexpr::PyObject;
using pyexpr::PyType;

constexpr int kMaxDepth = 32;  // lists inside lists in one argument

// Names tf_keras records for a function whose TensorFlow 2 spelling the
// translator knows under another name (tf.squeeze calls the v1 function).
const std::map<std::string, std::string>& FunctionAliases() {
  static const std::map<std::string, std::string> aliases = {
      {"compat.v1.squeeze", "squeeze"},
  };
  return aliases;
}

ExprPtr Make(ExprKind kind, std::vector<ExprPtr> operands = {}) {
  auto e = std::make_shared<Expr>();
  e->kind = kind;
  for (const ExprPtr& o : operands) {
    e->size += o->size;
    e->depth = std::max(e->depth, o->depth + 1);
  }
  e->operands = std::move(operands);
  return e;
}

ExprPtr Constant(PyObject object) {
  auto e = std::make_shared<Expr>();
  e->kind = ExprKind::kConst;
  e->constant = std::make_shared<const PyObject>(std::move(object));
  return e;
}

ExprPtr NoneConstant() { return Constant(PyObject{}); }

ExprPtr IntConstant(std::int64_t value) {
  PyObject object;
  object.type = PyType::kInt;
  object.integer = value;
  return Constant(std::move(object));
}

// The function parameter that holds the call's tensors, as a list.
ExprPtr InputsParam() {
  auto e = std::make_shared<Expr>();
  e->kind = ExprKind::kParam;
  e->index = 0;
  e->name = "inputs";
  return e;
}

// tf.math.reduce_mean as the attribute chain tf -> math -> reduce_mean.
ExprPtr DottedName(const std::string& path) {
  ExprPtr e;
  for (const std::string& part : Split(path, '.')) {
    auto next = std::make_shared<Expr>();
    next->kind = e ? ExprKind::kAttr : ExprKind::kGlobal;
    next->name = part;
    if (e) {
      next->size = e->size + 1;
      next->depth = e->depth + 1;
      next->operands = {e};
    }
    e = next;
  }
  return e;
}

bool IsSliceObject(const Json& value) {
  return value.is_object() && value.size() == 3 && value.contains("start") &&
         value.contains("stop") && value.contains("step");
}

bool IsEllipsisObject(const Json& value) {
  return value.is_object() && value.value("class_name", Json()) == "__ellipsis__";
}

// One recorded argument as the Python expression it was. Slices and `...`
// are accepted only inside a slice_spec, where tf_keras writes them.
Expected<ExprPtr> ArgumentExpr(const Json& value, bool in_slice_spec, int depth) {
  if (depth > kMaxDepth) return MakeError("an argument is nested too deeply");
  if (value.is_object() && value.contains("__input__") && value["__input__"].is_number_integer()) {
    return Make(ExprKind::kSubscript, {InputsParam(), IntConstant(value["__input__"].get<int>())});
  }
  if (value.is_null()) return NoneConstant();
  PyObject object;
  if (value.is_boolean()) {
    object.type = PyType::kBool;
    object.boolean = value.get<bool>();
    return Constant(std::move(object));
  }
  if (value.is_number_integer()) {
    if (value.is_number_unsigned() && value.get<std::uint64_t>() > INT64_MAX) {
      return MakeError("the argument {} is an int too large to translate", Abbreviate(value));
    }
    return IntConstant(value.get<std::int64_t>());
  }
  if (value.is_number()) {
    object.type = PyType::kFloat;
    object.real = value.get<double>();
    return Constant(std::move(object));
  }
  if (value.is_string()) {
    object.type = PyType::kStr;
    object.text = value.get<std::string>();
    return Constant(std::move(object));
  }
  if (value.is_array()) {
    std::vector<ExprPtr> items;
    for (const Json& item : value) {
      K2T_ASSIGN_OR_RETURN(ExprPtr e, ArgumentExpr(item, in_slice_spec, depth + 1));
      items.push_back(std::move(e));
    }
    return Make(ExprKind::kList, std::move(items));
  }
  if (in_slice_spec && IsEllipsisObject(value)) {
    object.type = PyType::kEllipsis;
    return Constant(std::move(object));
  }
  if (in_slice_spec && IsSliceObject(value)) {
    std::vector<ExprPtr> bounds;
    for (const char* key : {"start", "stop", "step"}) {
      K2T_ASSIGN_OR_RETURN(ExprPtr e, ArgumentExpr(value[key], false, depth + 1));
      bounds.push_back(std::move(e));
    }
    return Make(ExprKind::kSlice, std::move(bounds));
  }
  return MakeError("the argument {} is not translated", Abbreviate(value));
}

// The call's first argument and keywords, as recorded by config/normalize.cc.
struct RecordedCall {
  const Json* first = nullptr;
  Json kwargs = Json::object();
};

Expected<RecordedCall> Recorded(const ir::Node& node) {
  const config::CallSpec* call = node.call;
  if (!call || !call->args.is_array() || call->args.size() != 1) {
    return MakeError("the call's arguments are not recorded");
  }
  RecordedCall out;
  out.first = &call->args[0];
  if (call->kwargs.is_object()) out.kwargs = call->kwargs;
  // A name only names the TensorFlow operation.
  out.kwargs.erase("name");
  return out;
}

// `x[spec]`: tf_keras writes a tuple index as a list, as TensorFlow reads one.
Expected<ExprPtr> SlicingExpr(const RecordedCall& call) {
  if (!call.kwargs.contains("slice_spec") || call.kwargs.size() != 1) {
    return MakeError("the slicing records arguments {}, not only a slice_spec",
                     Abbreviate(call.kwargs));
  }
  K2T_ASSIGN_OR_RETURN(ExprPtr base, ArgumentExpr(*call.first, false, 0));
  const Json& spec = call.kwargs["slice_spec"];
  std::vector<ExprPtr> items;
  for (const Json& item : spec.is_array() ? spec : Json::array({spec})) {
    K2T_ASSIGN_OR_RETURN(ExprPtr e, ArgumentExpr(item, true, 1));
    items.push_back(std::move(e));
  }
  return Make(ExprKind::kSubscript, {base, Make(ExprKind::kTuple, std::move(items))});
}

// A slicing that keeps every axis (only slices with positive steps and `...`)
// runs in any axis order once its parts follow the tensor's: x[:, :, :, :4]
// of a channels-first image is x[:, :4]. Its slice for each Keras axis, or
// nothing when the index drops or adds axes.
std::optional<std::vector<Json>> AxisSlices(const CallContext& call) {
  if (call.layer.class_name != "SlicingOpLambda" || call.input_count() != 1) return {};
  auto recorded = Recorded(call.node);
  if (!recorded.ok() || !recorded->kwargs.contains("slice_spec")) return {};
  const Json& spec = recorded->kwargs["slice_spec"];
  if (!spec.is_array() || *recorded->first != Json{{"__input__", 0}}) return {};
  const std::size_t rank = call.input().shape.size();
  const Json full = {{"start", nullptr}, {"stop", nullptr}, {"step", nullptr}};
  std::size_t slices = 0;
  int ellipses = 0;
  for (const Json& item : spec) {
    if (IsEllipsisObject(item)) {
      ++ellipses;
      continue;
    }
    if (!IsSliceObject(item)) return {};
    for (const char* key : {"start", "stop", "step"}) {
      if (!item[key].is_null() && !item[key].is_number_integer()) return {};
    }
    if (item["step"].is_number_integer() && item["step"].get<std::int64_t>() <= 0) return {};
    ++slices;
  }
  if (ellipses > 1 || slices > rank) return {};
  std::vector<Json> out;
  for (const Json& item : spec) {
    if (!IsEllipsisObject(item)) {
      out.push_back(item);
      continue;
    }
    for (std::size_t k = 0; k < rank - slices; ++k) out.push_back(full);
  }
  while (out.size() < rank) out.push_back(full);
  return out;
}

// Functions that work along the axes their `axis` names and keep every axis
// where it was (reductions only with keepdims): with those axes renumbered,
// they run on tensors in any layout, e.g. tf.concat(axis=-1) of channels-first
// images as torch.cat(dim=1).
// The recorded `axis`; softmax's default, the last axis, where none is.
Json AxisArgument(const std::string& function, const Json& kwargs) {
  const bool softmax = function.find("softmax") != std::string::npos;
  return kwargs.contains("axis") || !softmax ? kwargs.value("axis", Json()) : Json(-1);
}

bool KeepsAxes(const CallContext& call) {
  static const std::set<std::string> functions = {
      "concat",          "split",           "nn.softmax",         "math.softmax",
      "nn.log_softmax",  "math.log_softmax", "math.l2_normalize", "nn.l2_normalize",
      "math.reduce_mean", "math.reduce_sum", "math.reduce_max",   "math.reduce_min",
      "math.reduce_prod"};
  if (call.layer.class_name != "TFOpLambda") return false;
  const Json& function = call.layer.config().value("function", Json());
  if (!function.is_string() || !functions.count(function.get<std::string>())) return false;
  auto recorded = Recorded(call.node);
  if (!recorded.ok()) return false;
  const Json axis = AxisArgument(function.get<std::string>(), recorded->kwargs);
  bool ok = axis.is_number_integer() || (axis.is_array() && !axis.empty());
  for (const Json& a : axis.is_array() ? axis : Json::array()) ok = ok && a.is_number_integer();
  if (StartsWith(function.get<std::string>(), "math.reduce_")) {
    ok = ok && recorded->kwargs.value("keepdims", Json()) == true;
  }
  if (recorded->kwargs.contains("num")) return false;
  for (std::size_t i = 0; i < call.input_count(); ++i) {
    ok = ok && call.input(i).shape.size() == call.input().shape.size();
  }
  return ok;
}

// `axis` (an int or a list of them) with each Keras axis replaced by its
// position in a tensor of layout `axes` (PyTorch axis t holds Keras axis axes[t]).
Json TorchAxes(const Json& axis, const std::vector<int>& axes) {
  auto one = [&](std::int64_t a) -> Json {
    const auto rank = static_cast<std::int64_t>(axes.size());
    if (a < 0) a += rank;
    const auto it = std::find(axes.begin(), axes.end(), static_cast<int>(a));
    return it == axes.end() ? Json(a) : Json(it - axes.begin());
  };
  if (axis.is_number_integer()) return one(axis.get<std::int64_t>());
  Json out = Json::array();
  for (const Json& a : axis) out.push_back(one(a.get<std::int64_t>()));
  return out;
}

// `tf.<function>(first, key=value, ...)`, keywords in the order recorded.
Expected<ExprPtr> FunctionExpr(const std::string& function, const RecordedCall& call) {
  std::string path = function;
  if (const auto it = FunctionAliases().find(function); it != FunctionAliases().end()) {
    path = it->second;
  }
  if (!pyexpr::IsTranslatedFunction("tf." + path)) {
    return MakeError("TensorFlow function tf.{} is not translated", PrintableText(function));
  }
  std::vector<ExprPtr> operands = {DottedName("tf." + path)};
  K2T_ASSIGN_OR_RETURN(ExprPtr first, ArgumentExpr(*call.first, false, 0));
  operands.push_back(std::move(first));
  std::vector<std::string> keywords;
  for (const auto& [key, value] : call.kwargs.items()) {
    K2T_ASSIGN_OR_RETURN(ExprPtr e, ArgumentExpr(value, false, 0));
    operands.push_back(std::move(e));
    keywords.push_back(key);
  }
  auto e = std::const_pointer_cast<Expr>(Make(ExprKind::kCall, std::move(operands)));
  e->keywords = std::move(keywords);
  return ExprPtr(e);
}

class TfFunctionConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override { return {"function"}; }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(auto translation, Translate(call, Placeholders(call)));
    std::vector<Shape> shapes;
    for (const auto& output : translation.outputs) shapes.push_back(output.shape);
    return shapes;
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    K2T_ASSIGN_OR_RETURN(auto translation, Translate(call, Placeholders(call)));
    if (!current.empty() && !current[0].features && AxisSlices(call)) {
      return PassThroughPlan(call, current);
    }
    if (!current.empty() && !current[0].features && KeepsAxes(call)) {
      LayoutPlan plan;
      plan.inputs.assign(call.input_count(), current[0]);
      plan.outputs.assign(call.node.outputs.size(), current[0]);
      return plan;
    }
    if (!translation.elementwise || current.empty()) {
      return KerasOrderPlan(call, call.node.outputs.size());
    }
    // Element-wise code (tf.clip_by_value, tf.cast) runs in any axis order.
    return ElementwisePlan(call, current);
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(auto translation, Translate(call, Placeholders(call)));
    K2T_ASSIGN_OR_RETURN(pyexpr::Function function, Synthesize(call));
    Lowering lowering;
    lowering.summary = pyexpr::ExprSource(*function.body, 60);
    for (const std::string& note : translation.notes) lowering.notes.push_back(note);
    lowering.definitions = translation.definitions;
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    if (!call.input().layout.perm.empty()) {
      if (auto slices = AxisSlices(call)) return PermutedSlice(call, *slices, emit.inputs[0]);
    }
    const bool torch_order = !call.input().layout.perm.empty() && KeepsAxes(call);
    K2T_ASSIGN_OR_RETURN(auto translation, Translate(call, emit.inputs, torch_order));
    std::vector<std::string> codes;
    for (const auto& output : translation.outputs) codes.push_back(output.code);
    return Join(codes, ", ");
  }

 private:
  static std::vector<std::string> Placeholders(const CallContext& call) {
    std::vector<std::string> codes;
    for (std::size_t i = 0; i < call.input_count(); ++i) codes.push_back(fmt::format("x{}", i));
    return codes;
  }

  // The slicing with its parts in the input's PyTorch axis order; full
  // slices at the end are left out.
  static Expected<std::string> PermutedSlice(const CallContext& call,
                                             const std::vector<Json>& slices,
                                             const std::string& code) {
    const ir::Value& input = call.input();
    const std::vector<int> axes = input.layout.Axes(static_cast<int>(input.shape.size()));
    Json torch_order = Json::array();
    for (int axis : axes) torch_order.push_back(slices.at(static_cast<std::size_t>(axis)));
    const Json full = {{"start", nullptr}, {"stop", nullptr}, {"step", nullptr}};
    while (torch_order.size() > 1 && torch_order.back() == full) {
      torch_order.erase(torch_order.size() - 1);
    }

    RecordedCall recorded;
    const Json first = {{"__input__", 0}};
    recorded.first = &first;
    recorded.kwargs = {{"slice_spec", torch_order}};
    pyexpr::Function function;
    function.params = {"inputs"};
    function.positional = 1;
    K2T_ASSIGN_OR_RETURN(function.body, SlicingExpr(recorded));
    pyexpr::LambdaCall lambda;
    lambda.function = &function;
    lambda.inputs.push_back({code, TorchShape(input)});
    lambda.list_input = true;
    K2T_ASSIGN_OR_RETURN(pyexpr::Translation translation, pyexpr::TranslateLambda(lambda));
    return translation.outputs.at(0).code;
  }

  // With `torch_order`, the call's axes as numbered in its input's layout.
  static Expected<pyexpr::Function> Synthesize(const CallContext& call, bool torch_order = false) {
    K2T_ASSIGN_OR_RETURN(RecordedCall recorded, Recorded(call.node));
    const Json function = call.layer.config().value("function", Json());
    if (!function.is_string()) return MakeError("the config names no function");
    if (torch_order) {
      const ir::Value& input = call.input();
      const Json axis = AxisArgument(function.get<std::string>(), recorded.kwargs);
      recorded.kwargs["axis"] =
          TorchAxes(axis, input.layout.Axes(static_cast<int>(input.shape.size())));
    }
    pyexpr::Function out;
    out.name = "<" + call.layer.class_name + ">";
    out.params = {"inputs"};
    out.positional = 1;
    if (call.layer.class_name == "SlicingOpLambda") {
      K2T_ASSIGN_OR_RETURN(out.body, SlicingExpr(recorded));
    } else {
      K2T_ASSIGN_OR_RETURN(out.body, FunctionExpr(function.get<std::string>(), recorded));
    }
    return out;
  }

  // The call translated over its input tensors, held by `codes`.
  static Expected<pyexpr::Translation> Translate(const CallContext& call,
                                                 const std::vector<std::string>& codes,
                                                 bool torch_order = false) {
    K2T_ASSIGN_OR_RETURN(pyexpr::Function function, Synthesize(call, torch_order));
    pyexpr::LambdaCall lambda;
    lambda.function = &function;
    for (std::size_t i = 0; i < call.input_count(); ++i) {
      const ir::Value& input = call.input(i);
      if (input.shape.empty()) {
        return MakeError("the shape of its input '{}' is not known",
                         PrintableText(input.name, 60));
      }
      lambda.inputs.push_back({codes.at(i), torch_order ? TorchShape(input) : input.shape});
    }
    lambda.list_input = true;
    lambda.flavor = TranslationFlavor(call.keras);
    K2T_ASSIGN_OR_RETURN(pyexpr::Translation translation, pyexpr::TranslateLambda(lambda));

    // tf.split's later pieces need not be used, so the layer may have fewer outputs.
    const std::size_t outputs = call.node.outputs.size();
    if (translation.outputs.size() < outputs) {
      return MakeError("the function gives {} tensor(s) where the layer has {} output(s)",
                       translation.outputs.size(), outputs);
    }
    translation.outputs.resize(outputs);
    for (std::size_t k = 0; k < outputs && !torch_order; ++k) {
      K2T_RETURN_IF_ERROR(AgreeShapes(translation.outputs[k].shape,
                                      call.output(k).recorded_shape,
                                      "the shape recorded in the file"));
    }
    return translation;
  }
};

}  // namespace

void RegisterTfFunctions(Registry& registry) {
  auto converter = std::make_shared<TfFunctionConverter>();
  registry.Add("TFOpLambda", converter);
  registry.Add("SlicingOpLambda", converter);
}

}  // namespace k2t::layers
