//===- layers/conv_transpose.cc - Conv1DTranspose, Conv2DTranspose, Conv3DTranspose ==//
//
// TF defines the transposed convolution as the gradient of a convolution
// whose input has the Keras output size O: the full transposed result
// F = (I - 1) s + k_eff is cropped to [b, b + O), b being the 'same' padding
// the forward convolution would put before. PyTorch crops `padding` from both
// ends and extends by `output_padding`; with padding = b the remaining
// difference is output_padding = O - F + 2b, which for Keras configs is
// always in [-1, s - 1]. At -1 (odd total padding, k=3 s=2 for example) the
// popular padding=k//2, output_padding=s-1 mapping is shifted by one pixel;
// here the extra last element is sliced off instead.
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

struct TransposeConfig {
  WindowConfig window;
  std::int64_t filters = 0;
  std::vector<std::optional<std::int64_t>> output_padding;
  bool use_bias = true;
};

// Per spatial axis: PyTorch's padding and output_padding, and whether the
// last element must be dropped.
struct AxisPlan {
  std::int64_t padding = 0;
  std::int64_t output_padding = 0;
  bool drop_last = false;
};

Expected<TransposeConfig> ReadTranspose(const CallContext& call, int rank) {
  TransposeConfig config;
  K2T_ASSIGN_OR_RETURN(config.window, ReadWindow(call, rank, false));
  K2T_ASSIGN_OR_RETURN(config.filters, call.config().Int("filters"));
  K2T_ASSIGN_OR_RETURN(config.use_bias, call.config().Bool("use_bias", true));
  if (call.config().IsNull("output_padding")) {
    config.output_padding.assign(static_cast<std::size_t>(rank), std::nullopt);
  } else {
    K2T_ASSIGN_OR_RETURN(auto padding, call.config().IntTuple("output_padding", rank));
    for (int i = 0; i < rank; ++i) {
      const std::int64_t limit = std::max(config.window.strides[i], config.window.dilation[i]);
      if (padding[i] < 0 || padding[i] >= limit) {
        return MakeError("output_padding {} must be smaller than the strides {}",
                         FormatList(padding), FormatList(config.window.strides));
      }
      config.output_padding.emplace_back(padding[i]);
    }
  }
  if (call.config().Int("groups", 1).value_or(1) != 1) {
    return MakeError("groups other than 1 are not supported for transposed convolutions");
  }
  return config;
}

std::int64_t Effective(const WindowConfig& w, int i) { return (w.kernel[i] - 1) * w.dilation[i] + 1; }

// Keras's output size along axis i (keras/src/backend/common/backend_utils.py).
std::int64_t OutputSize(const TransposeConfig& c, int i, std::int64_t in) {
  if (in < 0) return -1;
  const std::int64_t k = Effective(c.window, i);
  const std::int64_t s = c.window.strides[i];
  const auto& op = c.output_padding[static_cast<std::size_t>(i)];
  if (c.window.padding == "valid") return (in - 1) * s + k + (op ? *op : std::max(k, s) - k);
  if (!op) return in * s;
  return (in - 1) * s + k % 2 + *op;
}

AxisPlan PlanAxis(const TransposeConfig& c, int i) {
  const std::int64_t k = Effective(c.window, i);
  const std::int64_t s = c.window.strides[i];
  const auto& op = c.output_padding[static_cast<std::size_t>(i)];
  AxisPlan plan;
  if (c.window.padding == "valid") {
    plan.output_padding = op ? *op : std::max(k, s) - k;
    return plan;
  }
  // O = (I - 1) s + r; the forward convolution's 'same' padding on O puts
  // max(k - r, 0) / 2 before (with r = s when output_padding is unset).
  const std::int64_t r = op ? k % 2 + *op : s;
  const std::int64_t before = std::max<std::int64_t>(k - r, 0) / 2;
  plan.padding = before;
  const std::int64_t torch_output_padding = r - k + 2 * before;
  if (torch_output_padding < 0) {
    plan.drop_last = true;
  } else {
    plan.output_padding = torch_output_padding;
  }
  return plan;
}

class ConvTransposeConverter : public Converter {
 public:
  explicit ConvTransposeConverter(int rank) : rank_(rank) {}

  std::set<std::string> KnownKeys() const override {
    return {"filters", "kernel_size", "strides", "padding", "output_padding", "data_format",
            "dilation_rate", "activation", "use_bias", "groups"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(TransposeConfig c, ReadTranspose(call, rank_));
    const Shape& in = call.input().shape;
    if (static_cast<int>(in.size()) != rank_ + 2) {
      return MakeError("expects an input of rank {}, found shape {}", rank_ + 2, FormatShape(in));
    }
    const Shape spatial = SpatialOf(c.window, in);
    Shape out = {in[0]};
    if (!c.window.channels_last) out.push_back(c.filters);
    for (int i = 0; i < rank_; ++i) out.push_back(OutputSize(c, i, spatial[i]));
    if (c.window.channels_last) out.push_back(c.filters);
    return std::vector<Shape>{out};
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(TransposeConfig c, ReadTranspose(call, rank_));
    Shape kernel(c.window.kernel.begin(), c.window.kernel.end());
    kernel.push_back(c.filters);  // Keras: (k..., out, in)
    kernel.push_back(ChannelsOf(c.window, call.input().shape));
    std::vector<WeightSpec> specs = {{"kernel", kernel}};
    if (c.use_bias) specs.push_back({"bias", {c.filters}});
    return specs;
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>&) const override {
    K2T_ASSIGN_OR_RETURN(bool channels_last, call.config().ChannelsLast());
    return ChannelsFirstPlan(call, channels_last);
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(TransposeConfig c, ReadTranspose(call, rank_));
    const std::int64_t in = ChannelsOf(c.window, call.input().shape);
    std::vector<std::int64_t> padding, output_padding;
    bool drops = false;
    for (int i = 0; i < rank_; ++i) {
      const AxisPlan axis = PlanAxis(c, i);
      padding.push_back(axis.padding);
      output_padding.push_back(axis.output_padding);
      drops = drops || axis.drop_last;
    }
    std::string module = fmt::format("nn.ConvTranspose{}d({}, {}, kernel_size={}", rank_, in,
                                     c.filters, IntOrTuple(c.window.kernel));
    WindowConfig strides_only = c.window;
    strides_only.dilation.assign(static_cast<std::size_t>(rank_), 1);
    module += StrideDilationArguments(strides_only);
    const auto zero = [](std::int64_t v) { return v == 0; };
    if (!std::all_of(padding.begin(), padding.end(), zero)) module += ", padding=" + IntOrTuple(padding);
    if (!std::all_of(output_padding.begin(), output_padding.end(), zero)) {
      module += ", output_padding=" + IntOrTuple(output_padding);
    }
    WindowConfig dilation_only = c.window;
    dilation_only.strides.assign(static_cast<std::size_t>(rank_), 1);
    module += StrideDilationArguments(dilation_only);
    if (!c.use_bias) module += ", bias=False";

    Lowering lowering;
    lowering.module = module + ")";
    lowering.summary = fmt::format("nn.ConvTranspose{}d", rank_);
    if (drops) {
      lowering.notes.push_back("TF crops the odd pixel of 'same' padding at the end: the last "
                               "element is sliced off instead of shifting the output");
    }
    K2T_ASSIGN_OR_RETURN(std::string activation, ActivationName(call.config().Raw("activation")));
    K2T_RETURN_IF_ERROR(ActivationExpression(activation, "x", call.keras,
                                             LastAxisDim(call.output()), &lowering));
    Shape kernel(c.window.kernel.begin(), c.window.kernel.end());
    kernel.push_back(c.filters);
    kernel.push_back(in);
    // (k..., out, in) -> (in, out, k...)
    lowering.params.push_back(PermutedParam("weight", 0, kernel, KernelToTorch(rank_)));
    if (c.use_bias) lowering.params.push_back(CopyParam("bias", 1, {c.filters}));
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(TransposeConfig c, ReadTranspose(call, rank_));
    std::string expr = fmt::format("{}({})", emit.self(), emit.inputs[0]);
    std::vector<std::string> slices = {":", ":"};
    bool drops = false;
    for (int i = 0; i < rank_; ++i) {
      const bool drop = PlanAxis(c, i).drop_last;
      slices.push_back(drop ? ":-1" : ":");
      drops = drops || drop;
    }
    if (drops) {
      while (slices.back() == ":") slices.pop_back();
      expr += "[" + Join(slices, ", ") + "]";
    }
    K2T_ASSIGN_OR_RETURN(std::string activation, ActivationName(call.config().Raw("activation")));
    return ActivationExpression(activation, expr, call.keras, LastAxisDim(call.output()), nullptr);
  }

 private:
  int rank_;
};

}  // namespace

void RegisterConvTransposeLayers(Registry& registry) {
  registry.Add("Conv1DTranspose", std::make_shared<ConvTransposeConverter>(1));
  registry.Add("Conv2DTranspose", std::make_shared<ConvTransposeConverter>(2));
  registry.Add("Conv3DTranspose", std::make_shared<ConvTransposeConverter>(3));
}

}  // namespace k2t::layers
