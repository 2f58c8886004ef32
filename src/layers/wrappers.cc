//===- layers/wrappers.cc - TimeDistributed -----------------------------------===//
//
// TimeDistributed applies its inner layer to every time step: Keras folds the
// time axis into the batch, (B, T, ...) -> (B*T, ...), calls the layer and
// unfolds the result. The inner layer is converted by its own converter on a
// nested graph whose input is the folded tensor; its module becomes the
// wrapper's attribute and its call is wrapped in flatten(0, 1) / unflatten.
//
// Layouts: a tensor laid out (B, T, ...rest permuted) folds into the inner
// layer's (B*T, ...rest permuted) without a copy, so the inner layer's wish
// (channels first for a convolution) is passed on with the time axis kept
// second; a TimeDistributed Conv2D stack then runs (B, T, C, H, W) throughout.
// Dense acts on the last axis of a tensor of any rank, so it is applied to the
// unfolded tensor directly.
//
// Weights: the inner layer's variables, under `layer/` in Keras 3 files and in
// the wrapper's own list in legacy files.
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include <memory>

#include "layers/nested.h"
#include "layers/registry.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

// Layers that act on the last axis alone and so need no folding.
bool ActsOnLastAxis(const std::string& class_name) { return class_name == "Dense"; }

// True when a layout keeps batch and time as the first two torch axes.
bool KeepsTimeAxis(const ir::Layout& layout) {
  if (layout.features) return false;
  return layout.perm.empty() || (layout.perm.size() >= 2 && layout.perm[0] == 0 &&
                                 layout.perm[1] == 1);
}

// (B, T, rest) layout -> the folded (B*T, rest) layout of the inner layer.
ir::Layout Fold(const ir::Layout& outer) {
  ir::Layout inner;
  if (outer.perm.empty()) return inner;
  inner.perm.push_back(0);
  for (std::size_t i = 2; i < outer.perm.size(); ++i) inner.perm.push_back(outer.perm[i] - 1);
  return inner;
}

// The inverse of Fold; nullopt for inner layouts that move the batch axis.
std::optional<ir::Layout> Unfold(const ir::Layout& inner) {
  if (inner.features) return std::nullopt;
  ir::Layout outer;
  if (inner.perm.empty()) return outer;
  if (inner.perm[0] != 0) return std::nullopt;
  outer.perm = {0, 1};
  for (std::size_t i = 1; i < inner.perm.size(); ++i) outer.perm.push_back(inner.perm[i] + 1);
  return outer;
}

struct Inner {
  std::unique_ptr<NestedGraph> graph;
  int node = -1;
  bool whole = false;  // applied to the unfolded tensor (ActsOnLastAxis)
  std::string class_name;

  CallContext Context(const CallContext& outer) const {
    return graph->Context(node, outer.weights);
  }
  const Converter& converter() const { return graph->converter(node); }
};

// The inner layer called on the folded input (laid out as `layout` says, in
// the wrapper's own terms).
Expected<Inner> BuildInner(const CallContext& call, const ir::Layout& layout) {
  K2T_ASSIGN_OR_RETURN(auto nested, NestedLayerConfig(call.layer.config(), "layer"));
  const Shape& in = call.input().shape;
  if (in.size() < 3) {
    return MakeError("expects (batch, time, ...) inputs of rank 3 or more, found {}",
                     FormatShape(in));
  }
  Inner inner;
  inner.class_name = nested.first;
  inner.whole = ActsOnLastAxis(nested.first);
  inner.graph = std::make_unique<NestedGraph>(call.keras);
  Shape folded = in;
  ir::Layout inner_layout = layout;
  if (!inner.whole) {
    folded.erase(folded.begin() + 1);
    folded[0] = -1;
    inner_layout = Fold(layout);
  }
  const int x = inner.graph->AddValue(folded, inner_layout, call.input().dtype);
  auto node = inner.graph->AddCall(nested.first, *nested.second, call.layer.name, {x});
  if (!node.ok()) return std::move(node).error();
  inner.node = *node;
  if (inner.graph->node(inner.node).outputs.size() != 1) {
    return MakeError("the wrapped {} has several outputs, which TimeDistributed cannot apply",
                     PrintableText(nested.first));
  }
  return inner;
}

class TimeDistributedConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override { return {"layer"}; }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(Inner inner, BuildInner(call, {}));
    Shape out = inner.graph->value(inner.graph->node(inner.node).outputs[0]).shape;
    if (!inner.whole) {
      if (out.empty()) return MakeError("the wrapped layer's output shape is unknown");
      out.insert(out.begin() + 1, call.input().shape[1]);
      out[0] = call.input().shape[0];
    }
    return std::vector<Shape>{out};
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(Inner inner, BuildInner(call, {}));
    K2T_ASSIGN_OR_RETURN(std::vector<WeightSpec> specs,
                         inner.converter().Weights(inner.Context(call)));
    for (WeightSpec& spec : specs) spec.owner = spec.owner.empty() ? "layer" : "layer/" + spec.owner;
    return specs;
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    // Every call must share the inner module, and so its layout.
    if (call.layer.nodes.size() > 1) return KerasOrderPlan(call);
    const ir::Layout offered = KeepsTimeAxis(current[0]) ? current[0] : ir::Layout();
    K2T_ASSIGN_OR_RETURN(Inner inner, BuildInner(call, offered));
    const ir::Layout inner_offered = inner.graph->value(inner.graph->node(inner.node).inputs[0]).layout;
    K2T_ASSIGN_OR_RETURN(LayoutPlan plan,
                         inner.converter().PlanLayout(inner.Context(call), {inner_offered}));
    if (plan.inputs.size() != 1 || plan.outputs.empty()) return KerasOrderPlan(call);
    if (inner.whole) {
      if (plan.inputs[0].features || plan.outputs[0].features) return KerasOrderPlan(call);
      return LayoutPlan{{plan.inputs[0]}, {plan.outputs[0]}};
    }
    const auto input = Unfold(plan.inputs[0]);
    const auto output = Unfold(plan.outputs[0]);
    if (!input || !output) return KerasOrderPlan(call);
    return LayoutPlan{{*input}, {*output}};
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(Inner inner, Planned(call));
    K2T_ASSIGN_OR_RETURN(Lowering lowering, inner.converter().Lower(inner.Context(call)));
    lowering.summary = fmt::format("{} on every time step", lowering.summary);
    if (!lowering.module.empty()) {
      lowering.comments.push_back(
          fmt::format("Keras TimeDistributed({}): applied to every time step.",
                      PrintableText(inner.class_name)));
    }
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(Inner inner, Planned(call));
    const CallContext context = inner.Context(call);
    if (inner.converter().IsIdentity(context)) return emit.inputs[0];
    if (inner.converter().UsesStatements(context)) {
      return MakeError("the wrapped {} needs several statements per call, which TimeDistributed "
                       "does not support",
                       PrintableText(inner.class_name));
    }
    EmitContext inner_emit = emit;
    inner_emit.tensor_kwargs.clear();
    if (inner.whole) return inner.converter().EmitCall(context, inner_emit);
    // (B, T, ...) -> (B*T, ...) -> the layer -> (B, T, ...).
    inner_emit.inputs = {emit.inputs[0] + ".flatten(0, 1)"};
    K2T_ASSIGN_OR_RETURN(std::string expr, inner.converter().EmitCall(context, inner_emit));
    const std::int64_t steps = call.input().shape[1];
    const std::string sizes = steps > 0 ? fmt::format("(-1, {})", steps)
                                        : fmt::format("({}.shape[0], -1)", emit.inputs[0]);
    return fmt::format("{}.unflatten(0, {})", expr, sizes);
  }

  bool IsIdentity(const CallContext& call) const override {
    auto inner = Planned(call);
    return inner.ok() && inner->converter().IsIdentity(inner->Context(call));
  }

 private:
  // The inner call with the layouts the planner chose for the wrapper.
  static Expected<Inner> Planned(const CallContext& call) {
    K2T_ASSIGN_OR_RETURN(Inner inner, BuildInner(call, call.input().layout));
    const ir::Node& node = inner.graph->node(inner.node);
    const ir::Layout& out = call.output().layout;
    inner.graph->value(node.outputs[0]).layout = inner.whole ? out : Fold(out);
    return inner;
  }
};

}  // namespace

void RegisterWrapperLayers(Registry& registry) {
  registry.Add("TimeDistributed", std::make_shared<TimeDistributedConverter>());
}

}  // namespace k2t::layers
