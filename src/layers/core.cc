//===- layers/core.cc - InputLayer, Dense, Activation ------------------------===//
#include <fmt/format.h>

#include "layers/activation_functions.h"
#include "layers/registry.h"
#include "support/strings.h"
#include "layers/weights_transform.h"

namespace k2t::layers {
namespace {

class InputLayerConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override {
    return {"batch_shape", "batch_input_shape", "sparse", "ragged", "optional", "input_tensor"};
  }
  Expected<std::vector<Shape>> InferShapes(const CallContext&) const override {
    return MakeError("an InputLayer is never called");
  }
  Expected<Lowering> Lower(const CallContext&) const override { return Lowering{}; }
  Expected<std::string> EmitCall(const CallContext&, const EmitContext& emit) const override {
    return emit.inputs.at(0);
  }
};

// True when the Keras last axis (the channels) is PyTorch's dim 1.
bool ChannelsAtDim1(const ir::Layout& layout, std::size_t rank) {
  return layout.perm.size() == rank && layout.perm[1] == static_cast<int>(rank) - 1;
}

// True when the Keras last axis is also PyTorch's last dim.
bool ChannelsLastInTorch(const ir::Layout& layout, std::size_t rank) {
  return layout.perm.empty() || layout.perm.back() == static_cast<int>(rank) - 1;
}

// Dense acts on the last axis of a tensor of any rank: y = x @ kernel + bias.
class DenseConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override {
    return {"units", "activation", "use_bias", "lora_rank", "lora_alpha", "quantization_config"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(std::int64_t units, call.config().Int("units"));
    Shape out = call.input().shape;
    if (out.empty()) return std::vector<Shape>{Shape{-1, units}};  // unknown input: assume rank 2
    if (out.size() < 2) return MakeError("input of rank {} has no feature axis", out.size());
    out.back() = units;
    // The activation runs on the output, and glu halves it.
    K2T_ASSIGN_OR_RETURN(std::string activation,
                         ActivationName(call.config().Raw("activation")));
    K2T_ASSIGN_OR_RETURN(out, ActivationShape(activation, std::move(out)));
    return std::vector<Shape>{out};
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(std::int64_t units, call.config().Int("units"));
    K2T_ASSIGN_OR_RETURN(bool use_bias, call.config().Bool("use_bias", true));
    const std::int64_t in = call.input().shape.empty() ? -1 : call.input().shape.back();
    std::vector<WeightSpec> specs = {{"kernel", {in, units}}};
    if (use_bias) specs.push_back({"bias", {units}});
    return specs;
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    LayoutPlan plan = KerasOrderPlan(call);
    // A flattened channels-first input is absorbed into the weight rows, which
    // is only possible when every call sees the same order.
    const bool single_call = call.layer.nodes.size() == 1;
    const std::size_t rank = call.input().shape.size();
    if (rank == 2 && single_call) plan.inputs[0] = current[0];
    // On a feature map Dense mixes channels only: where PyTorch keeps the
    // channels at dim 1 it is a 1x1 convolution, and where it keeps them last
    // a Linear; either way no permute. Every call must see the same layout.
    if (rank >= 3 && rank <= 5 && !current[0].features && single_call &&
        (ChannelsAtDim1(current[0], rank) || ChannelsLastInTorch(current[0], rank))) {
      plan.inputs[0] = current[0];
      plan.outputs[0] = current[0];
    }
    return plan;
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(std::int64_t units, call.config().Int("units"));
    K2T_ASSIGN_OR_RETURN(bool use_bias, call.config().Bool("use_bias", true));
    // The kernel says the input size even where shapes could not be inferred
    // (after a custom layer).
    const std::int64_t in = call.weights && !call.weights->empty()
                                ? (*call.weights)[0].shape[0]
                                : call.input().shape.back();
    Lowering lowering;
    const ir::Layout& layout = call.input().layout;
    const int rank = static_cast<int>(call.input().shape.size());
    if (rank >= 3 && ChannelsAtDim1(layout, static_cast<std::size_t>(rank))) {
      // (in, units) -> (units, in, 1, ...): a 1x1 convolution over the channels.
      const int spatial = rank - 2;
      lowering.module = fmt::format("nn.Conv{}d({}, {}, kernel_size=1{})", spatial, in, units,
                                    use_bias ? "" : ", bias=False");
      lowering.summary = fmt::format("nn.Conv{}d 1x1 (Dense on channels)", spatial);
      lowering.comments.push_back("Keras Dense on the channels of a feature map.");
      Shape shape = {units, in};
      shape.insert(shape.end(), static_cast<std::size_t>(spatial), 1);
      Param weight;
      weight.key = "weight";
      weight.shape = shape;
      weight.sources = {0};
      weight.transform = [shape](std::vector<Tensor> s) -> Expected<Tensor> {
        return s[0].Permute({1, 0}).Reshape(shape);
      };
      lowering.params.push_back(std::move(weight));
      if (use_bias) lowering.params.push_back(CopyParam("bias", 1, {units}));
      K2T_ASSIGN_OR_RETURN(std::string activation,
                           ActivationName(call.config().Raw("activation")));
      K2T_RETURN_IF_ERROR(ActivationExpression(activation, "x", call.keras,
                                               LastAxisDim(call.output()), &lowering));
      return lowering;
    }
    lowering.module = fmt::format("nn.Linear({}, {}{})", in, units, use_bias ? "" : ", bias=False");
    lowering.summary = "nn.Linear";
    // The activation's helper definitions (sparsemax) and notes (hard_sigmoid).
    K2T_ASSIGN_OR_RETURN(std::string activation,
                         ActivationName(call.config().Raw("activation")));
    K2T_RETURN_IF_ERROR(
        ActivationExpression(activation, "x", call.keras, LastAxisDim(call.output()), &lowering));
    const auto& features = call.input().layout.features;
    if (features) {
      lowering.comments.push_back(
          "Rows permuted at conversion from Keras's channels-last flatten order.");
      lowering.notes.push_back("weight rows reordered to follow the channels-first flatten");
    }
    lowering.params.push_back(LinearWeight("weight", 0, in, units, features));
    if (use_bias) lowering.params.push_back(CopyParam("bias", 1, {units}));
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(std::string activation,
                         ActivationName(call.config().Raw("activation")));
    const std::string linear = fmt::format("{}({})", emit.self(), emit.inputs[0]);
    return ActivationExpression(activation, linear, call.keras, LastAxisDim(call.output()),
                                nullptr);
  }
};

class ActivationConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override { return {"activation"}; }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(std::string name, ActivationName(call.config().Raw("activation")));
    Lowering unused;
    K2T_RETURN_IF_ERROR(
        ActivationExpression(name, "x", call.keras, 1, &unused));  // rejects unknown names early
    K2T_ASSIGN_OR_RETURN(Shape out, ActivationShape(name, call.input().shape));
    return std::vector<Shape>{out};
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    return PassThroughPlan(call, current);
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(std::string name, ActivationName(call.config().Raw("activation")));
    Lowering lowering;
    K2T_RETURN_IF_ERROR(
        ActivationExpression(name, "x", call.keras, LastAxisDim(call.input()), &lowering));
    lowering.summary = "activation " + name;
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(std::string name, ActivationName(call.config().Raw("activation")));
    return ActivationExpression(name, emit.inputs[0], call.keras, LastAxisDim(call.input()),
                                nullptr);
  }

  bool IsIdentity(const CallContext& call) const override {
    auto name = ActivationName(call.config().Raw("activation"));
    return name.ok() && *name == "linear";
  }
};

}  // namespace

void RegisterCoreLayers(Registry& registry) {
  registry.Add("InputLayer", std::make_shared<InputLayerConverter>());
  registry.Add("Dense", std::make_shared<DenseConverter>());
  registry.Add("Activation", std::make_shared<ActivationConverter>());
}

}  // namespace k2t::layers
