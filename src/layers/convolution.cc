//===- layers/convolution.cc - Conv1D, Conv2D, Conv3D -----------------------===//
//
// Keras kernels are (k..., in / groups, filters) for either data format;
// PyTorch's are (filters, in / groups, k...): HWIO -> OIHW. Both frameworks
// correlate (no flip) and group channels contiguously. Padding follows TF's
// 'same' rule exactly, asymmetric where TF is.
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include "layers/activation_functions.h"
#include "layers/padding.h"
#include "layers/registry.h"
#include "layers/weights_transform.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

constexpr const char* kPadSameSource = R"(def _pad_same(
    x: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]
) -> torch.Tensor:
    """Pads the spatial dims of a channels-first tensor as TensorFlow's 'same' does."""
    pads = []
    for size, k, s, d in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride),
                             reversed(dilation)):
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)
)";

struct ConvConfig {
  int rank = 2;
  std::int64_t filters = 0;
  std::vector<std::int64_t> kernel, strides, dilation;
  std::string padding;
  std::int64_t groups = 1;
  bool use_bias = true;
  bool channels_last = true;
};

// How the generated code pads before the convolution.
struct PaddingPlan {
  std::string module_argument;  // ", padding=..." or ""
  std::string forward_prefix;   // "F.pad(" ... applied to the input, or ""
  std::string forward_suffix;
  bool needs_helper = false;
};

Expected<ConvConfig> ReadConv(const CallContext& call, int rank) {
  const ConfigReader config = call.config();
  ConvConfig conv;
  conv.rank = rank;
  K2T_ASSIGN_OR_RETURN(conv.filters, config.Int("filters"));
  K2T_ASSIGN_OR_RETURN(conv.kernel, config.IntTuple("kernel_size", rank));
  K2T_ASSIGN_OR_RETURN(conv.strides, config.IntTuple("strides", rank, 1));
  K2T_ASSIGN_OR_RETURN(conv.dilation, config.IntTuple("dilation_rate", rank, 1));
  K2T_ASSIGN_OR_RETURN(conv.padding, config.String("padding", "valid"));
  K2T_ASSIGN_OR_RETURN(conv.groups, config.Int("groups", 1));
  K2T_ASSIGN_OR_RETURN(conv.use_bias, config.Bool("use_bias", true));
  K2T_ASSIGN_OR_RETURN(conv.channels_last, config.ChannelsLast());
  for (char& c : conv.padding) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (conv.padding != "valid" && conv.padding != "same" &&
      !(conv.padding == "causal" && rank == 1)) {
    return MakeError("padding '{}' is not supported; expected valid, same{}", conv.padding,
                     rank == 1 ? " or causal" : "");
  }
  for (int i = 0; i < rank; ++i) {
    if (conv.strides[i] > 1 && conv.dilation[i] > 1) {
      return MakeError("dilation_rate {} with strides {} is not supported; Keras itself rejects it",
                       FormatList(conv.dilation), FormatList(conv.strides));
    }
  }
  if (conv.filters <= 0 || conv.groups <= 0 || conv.filters % conv.groups != 0) {
    return MakeError("filters ({}) must be a positive multiple of groups ({})", conv.filters,
                     conv.groups);
  }
  return conv;
}

std::int64_t Channels(const ConvConfig& conv, const Shape& shape) {
  return conv.channels_last ? shape.back() : shape[1];
}

Shape Spatial(const ConvConfig& conv, const Shape& shape) {
  const std::size_t start = conv.channels_last ? 1 : 2;
  return Shape(shape.begin() + static_cast<long>(start),
               shape.begin() + static_cast<long>(start) + conv.rank);
}

PaddingPlan PlanPadding(const ConvConfig& conv, const Shape& spatial) {
  PaddingPlan plan;
  if (conv.padding == "valid") return plan;
  if (conv.padding == "causal") {
    plan.forward_prefix = "F.pad(";
    plan.forward_suffix = fmt::format(", ({}, 0))", conv.dilation[0] * (conv.kernel[0] - 1));
    return plan;
  }
  const bool unit_stride =
      std::all_of(conv.strides.begin(), conv.strides.end(), [](auto s) { return s == 1; });
  if (unit_stride) {
    // With stride 1 TF pads (k - 1) * d in total whatever the size, the odd
    // pixel after. PyTorch's padding="same" does the same, but warns and
    // copies the input when the total is odd; pad explicitly then.
    std::vector<PadPair> pads;
    for (int i = 0; i < conv.rank; ++i) {
      const std::int64_t total = (conv.kernel[i] - 1) * conv.dilation[i];
      pads.push_back({total / 2, total - total / 2});
    }
    if (std::all_of(pads.begin(), pads.end(), [](const PadPair& p) { return p.symmetric(); })) {
      plan.module_argument = ", padding=\"same\"";
      return plan;
    }
    plan.forward_prefix = "F.pad(";
    plan.forward_suffix = ", " + FPadArgument(pads) + ")";
    return plan;
  }
  const bool known = std::all_of(spatial.begin(), spatial.end(), [](auto d) { return d >= 0; });
  if (!known) {
    plan.needs_helper = true;
    plan.forward_prefix = "_pad_same(";
    plan.forward_suffix = fmt::format(", {}, {}, {})", PyTuple(conv.kernel),
                                      PyTuple(conv.strides), PyTuple(conv.dilation));
    return plan;
  }
  std::vector<PadPair> pads;
  bool symmetric = true;
  for (int i = 0; i < conv.rank; ++i) {
    pads.push_back(SamePadding(spatial[i], conv.kernel[i], conv.strides[i], conv.dilation[i]));
    symmetric = symmetric && pads.back().symmetric();
  }
  if (symmetric) {
    std::vector<std::int64_t> before;
    for (const auto& p : pads) before.push_back(p.before);
    if (std::any_of(before.begin(), before.end(), [](auto p) { return p > 0; })) {
      plan.module_argument = ", padding=" + IntOrTuple(before);
    }
    return plan;
  }
  // TF puts the odd pixel after; PyTorch's padding argument cannot.
  plan.forward_prefix = "F.pad(";
  plan.forward_suffix = ", " + FPadArgument(pads) + ")";
  return plan;
}

class ConvConverter : public Converter {
 public:
  explicit ConvConverter(int rank) : rank_(rank) {}

  std::set<std::string> KnownKeys() const override {
    return {"filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
            "groups", "activation", "use_bias", "lora_rank", "lora_alpha"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(ConvConfig conv, ReadConv(call, rank_));
    const Shape& in = call.input().shape;
    if (static_cast<int>(in.size()) != rank_ + 2) {
      return MakeError("expects an input of rank {}, found shape {}", rank_ + 2,
                       FormatShape(in));
    }
    const std::int64_t channels = Channels(conv, in);
    if (channels > 0 && channels % conv.groups != 0) {
      return MakeError("input channels ({}) must be a multiple of groups ({})", channels,
                       conv.groups);
    }
    const Shape spatial = Spatial(conv, in);
    Shape out_spatial;
    for (int i = 0; i < rank_; ++i) {
      out_spatial.push_back(WindowOutputSize(spatial[i], conv.kernel[i], conv.strides[i],
                                             conv.dilation[i], conv.padding));
    }
    Shape out = {in[0]};
    if (!conv.channels_last) out.push_back(conv.filters);
    out.insert(out.end(), out_spatial.begin(), out_spatial.end());
    if (conv.channels_last) out.push_back(conv.filters);
    // The activation runs on the output, and glu halves its last axis.
    K2T_ASSIGN_OR_RETURN(std::string activation, ActivationName(call.config().Raw("activation")));
    K2T_ASSIGN_OR_RETURN(out, ActivationShape(activation, std::move(out)));
    return std::vector<Shape>{out};
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(ConvConfig conv, ReadConv(call, rank_));
    Shape kernel(conv.kernel.begin(), conv.kernel.end());
    kernel.push_back(Channels(conv, call.input().shape) / conv.groups);
    kernel.push_back(conv.filters);
    std::vector<WeightSpec> specs = {{"kernel", kernel}};
    if (conv.use_bias) specs.push_back({"bias", {conv.filters}});
    return specs;
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>&) const override {
    K2T_ASSIGN_OR_RETURN(bool channels_last, call.config().ChannelsLast());
    return ChannelsFirstPlan(call, channels_last);
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(ConvConfig conv, ReadConv(call, rank_));
    const std::int64_t in_channels = Channels(conv, call.input().shape);
    const PaddingPlan padding = PlanPadding(conv, Spatial(conv, call.input().shape));

    std::string module = fmt::format("nn.Conv{}d({}, {}, kernel_size={}", rank_, in_channels,
                                     conv.filters, IntOrTuple(conv.kernel));
    auto is_one = [](auto v) { return v == 1; };
    if (!std::all_of(conv.strides.begin(), conv.strides.end(), is_one)) {
      module += ", stride=" + IntOrTuple(conv.strides);
    }
    module += padding.module_argument;
    if (!std::all_of(conv.dilation.begin(), conv.dilation.end(), is_one)) {
      module += ", dilation=" + IntOrTuple(conv.dilation);
    }
    if (conv.groups != 1) module += fmt::format(", groups={}", conv.groups);
    if (!conv.use_bias) module += ", bias=False";
    module += ")";

    Lowering lowering;
    lowering.module = module;
    lowering.summary = fmt::format("nn.Conv{}d", rank_);
    // The activation's helper definitions (sparsemax) and notes (hard_sigmoid).
    K2T_ASSIGN_OR_RETURN(std::string activation, ActivationName(call.config().Raw("activation")));
    K2T_RETURN_IF_ERROR(ActivationExpression(activation, "x", call.keras,
                                             LastAxisDim(call.output()), &lowering));
    if (padding.needs_helper) lowering.definitions.emplace_back("_pad_same", kPadSameSource);
    if (!padding.forward_prefix.empty()) {
      lowering.notes.push_back(conv.padding == "causal"
                                   ? "causal padding: left pad before the convolution"
                                   : "'same' padding is asymmetric here; padded explicitly as TF does");
    }

    // (k..., in, out) -> (out, in, k...)
    std::vector<int> perm = {rank_ + 1, rank_};
    for (int i = 0; i < rank_; ++i) perm.push_back(i);
    Shape kernel(conv.kernel.begin(), conv.kernel.end());
    kernel.push_back(in_channels / conv.groups);
    kernel.push_back(conv.filters);
    lowering.params.push_back(PermutedParam("weight", 0, kernel, perm));
    if (conv.use_bias) lowering.params.push_back(CopyParam("bias", 1, {conv.filters}));
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(ConvConfig conv, ReadConv(call, rank_));
    const PaddingPlan padding = PlanPadding(conv, Spatial(conv, call.input().shape));
    const std::string input = padding.forward_prefix + emit.inputs[0] + padding.forward_suffix;
    K2T_ASSIGN_OR_RETURN(std::string activation, ActivationName(call.config().Raw("activation")));
    // Keras applies it along its last axis: the channels only when channels last.
    return ActivationExpression(activation, fmt::format("{}({})", emit.self(), input), call.keras,
                                LastAxisDim(call.output()), nullptr);
  }

 private:
  int rank_;
};

}  // namespace

void RegisterConvolutionLayers(Registry& registry) {
  registry.Add("Conv1D", std::make_shared<ConvConverter>(1));
  registry.Add("Conv2D", std::make_shared<ConvConverter>(2));
  registry.Add("Conv3D", std::make_shared<ConvConverter>(3));
}

}  // namespace k2t::layers
