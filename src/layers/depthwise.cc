//===- layers/depthwise.cc - DepthwiseConv1D/2D, SeparableConv1D/2D ---------===//
//
// A depthwise kernel (k..., C, M) gives output channel c * M + m; reshaped
// row-major to (k..., 1, C * M) it is a grouped convolution with groups = C,
// as PyTorch lays it out (group c = output channels [c M, c M + M)).
// SeparableConv is that depthwise step (no bias) followed by a 1x1 pointwise
// convolution that carries the bias.
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include "layers/activation_functions.h"
#include "layers/conv_common.h"
#include "layers/registry.h"
#include "layers/weights_transform.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

struct DepthwiseConfig {
  WindowConfig window;
  std::int64_t multiplier = 1;
  std::int64_t filters = 0;  // separable only
  bool use_bias = true;
};

Expected<DepthwiseConfig> ReadDepthwise(const CallContext& call, int rank, bool separable) {
  DepthwiseConfig c;
  K2T_ASSIGN_OR_RETURN(c.window, ReadWindow(call, rank, !separable));
  K2T_ASSIGN_OR_RETURN(c.multiplier, call.config().Int("depth_multiplier", 1));
  K2T_ASSIGN_OR_RETURN(c.use_bias, call.config().Bool("use_bias", true));
  if (separable) {
    K2T_ASSIGN_OR_RETURN(c.filters, call.config().Int("filters"));
  }
  if (c.multiplier <= 0) return MakeError("depth_multiplier must be positive, found {}", c.multiplier);
  return c;
}

// The depthwise kernel (k..., C, M) as PyTorch's (C * M, 1, k...).
Param DepthwiseWeight(const std::string& key, int source, const DepthwiseConfig& c,
                      std::int64_t channels) {
  const int rank = c.window.rank;
  Param param;
  param.key = key;
  param.shape = {channels * c.multiplier, 1};
  param.shape.insert(param.shape.end(), c.window.kernel.begin(), c.window.kernel.end());
  param.sources = {source};
  Shape grouped(c.window.kernel.begin(), c.window.kernel.end());
  grouped.push_back(1);
  grouped.push_back(channels * c.multiplier);
  param.transform = [grouped, rank](std::vector<Tensor> s) -> Expected<Tensor> {
    // (k..., C, M) -> (k..., 1, C*M) -> (C*M, 1, k...)
    return s[0].Reshape(grouped).Permute(KernelToTorch(rank));
  };
  return param;
}

class DepthwiseConverter : public Converter {
 public:
  DepthwiseConverter(int rank, bool separable) : rank_(rank), separable_(separable) {}

  std::set<std::string> KnownKeys() const override {
    return {"kernel_size", "strides", "padding", "data_format", "dilation_rate",
            "depth_multiplier", "activation", "use_bias", "filters",
            "depthwise_initializer", "pointwise_initializer", "depthwise_regularizer",
            "pointwise_regularizer", "depthwise_constraint", "pointwise_constraint"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(DepthwiseConfig c, ReadDepthwise(call, rank_, separable_));
    const Shape& in = call.input().shape;
    if (static_cast<int>(in.size()) != rank_ + 2) {
      return MakeError("expects an input of rank {}, found shape {}", rank_ + 2, FormatShape(in));
    }
    const std::int64_t channels = ChannelsOf(c.window, in);
    const std::int64_t out = separable_ ? c.filters : (channels < 0 ? -1 : channels * c.multiplier);
    return std::vector<Shape>{WindowOutputShape(c.window, in, out)};
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(DepthwiseConfig c, ReadDepthwise(call, rank_, separable_));
    const std::int64_t channels = ChannelsOf(c.window, call.input().shape);
    Shape depthwise(c.window.kernel.begin(), c.window.kernel.end());
    depthwise.push_back(channels);
    depthwise.push_back(c.multiplier);
    std::vector<WeightSpec> specs = {{"depthwise_kernel", depthwise}};
    if (separable_) {
      Shape pointwise(static_cast<std::size_t>(rank_), 1);
      pointwise.push_back(channels * c.multiplier);
      pointwise.push_back(c.filters);
      specs.push_back({"pointwise_kernel", pointwise});
      if (c.use_bias) specs.push_back({"bias", {c.filters}});
    } else if (c.use_bias) {
      specs.push_back({"bias", {channels * c.multiplier}});
    }
    return specs;
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>&) const override {
    K2T_ASSIGN_OR_RETURN(bool channels_last, call.config().ChannelsLast());
    return ChannelsFirstPlan(call, channels_last);
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(DepthwiseConfig c, ReadDepthwise(call, rank_, separable_));
    const std::int64_t channels = ChannelsOf(c.window, call.input().shape);
    const std::int64_t middle = channels * c.multiplier;
    const PaddingPlan padding = PlanConvPadding(c.window, SpatialOf(c.window, call.input().shape));
    const std::string depthwise =
        fmt::format("nn.Conv{}d({}, {}, kernel_size={}{}{}, groups={}{})", rank_, channels, middle,
                    IntOrTuple(c.window.kernel), StrideDilationArguments(c.window),
                    padding.module_argument, channels,
                    (separable_ || !c.use_bias) ? ", bias=False" : "");
    Lowering lowering;
    if (padding.needs_helper) lowering.definitions.emplace_back("_pad_same", kPadSameSource);
    if (!padding.forward_prefix.empty()) {
      lowering.notes.push_back("'same' padding is asymmetric here; padded explicitly as TF does");
    }
    K2T_ASSIGN_OR_RETURN(std::string activation, ActivationName(call.config().Raw("activation")));
    K2T_RETURN_IF_ERROR(ActivationExpression(activation, "x", call.keras,
                                             LastAxisDim(call.output()), &lowering));
    if (!separable_) {
      lowering.module = depthwise;
      lowering.summary = fmt::format("nn.Conv{}d (groups = channels)", rank_);
      lowering.params.push_back(DepthwiseWeight("weight", 0, c, channels));
      if (c.use_bias) lowering.params.push_back(CopyParam("bias", 1, {middle}));
      return lowering;
    }
    const std::string pointwise = fmt::format("nn.Conv{}d({}, {}, kernel_size=1{})", rank_, middle,
                                              c.filters, c.use_bias ? "" : ", bias=False");
    lowering.module = fmt::format("nn.Sequential(\n            {},\n            {},\n        )",
                                  depthwise, pointwise);
    lowering.summary = fmt::format("depthwise + pointwise nn.Conv{}d", rank_);
    lowering.params.push_back(DepthwiseWeight("0.weight", 0, c, channels));
    Shape pointwise_kernel(static_cast<std::size_t>(rank_), 1);
    pointwise_kernel.push_back(middle);
    pointwise_kernel.push_back(c.filters);
    lowering.params.push_back(PermutedParam("1.weight", 1, pointwise_kernel, KernelToTorch(rank_)));
    if (c.use_bias) lowering.params.push_back(CopyParam("1.bias", 2, {c.filters}));
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(DepthwiseConfig c, ReadDepthwise(call, rank_, separable_));
    const PaddingPlan padding = PlanConvPadding(c.window, SpatialOf(c.window, call.input().shape));
    const std::string input = padding.forward_prefix + emit.inputs[0] + padding.forward_suffix;
    K2T_ASSIGN_OR_RETURN(std::string activation, ActivationName(call.config().Raw("activation")));
    return ActivationExpression(activation, fmt::format("{}({})", emit.self(), input), call.keras,
                                LastAxisDim(call.output()), nullptr);
  }

 private:
  int rank_;
  bool separable_;
};

}  // namespace

void RegisterDepthwiseLayers(Registry& registry) {
  registry.Add("DepthwiseConv1D", std::make_shared<DepthwiseConverter>(1, false));
  registry.Add("DepthwiseConv2D", std::make_shared<DepthwiseConverter>(2, false));
  registry.Add("SeparableConv1D", std::make_shared<DepthwiseConverter>(1, true));
  registry.Add("SeparableConv2D", std::make_shared<DepthwiseConverter>(2, true));
}

}  // namespace k2t::layers
