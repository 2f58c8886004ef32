//===- layers/conv_common.cc - What convolution-like layers share -----------===//
#include "layers/conv_common.h"

#include <fmt/format.h>

#include <algorithm>

#include "support/strings.h"

namespace k2t::layers {

const char* const kPadSameSource = R"(def _pad_same(
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

Expected<WindowConfig> ReadWindow(const CallContext& call, int rank, bool allow_causal) {
  const ConfigReader config = call.config();
  WindowConfig window;
  window.rank = rank;
  K2T_ASSIGN_OR_RETURN(window.kernel, config.IntTuple("kernel_size", rank));
  K2T_ASSIGN_OR_RETURN(window.strides, config.IntTuple("strides", rank, 1));
  K2T_ASSIGN_OR_RETURN(window.dilation, config.IntTuple("dilation_rate", rank, 1));
  K2T_ASSIGN_OR_RETURN(window.padding, config.String("padding", "valid"));
  K2T_ASSIGN_OR_RETURN(window.channels_last, config.ChannelsLast());
  for (char& c : window.padding) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool causal_ok = allow_causal && rank == 1;
  if (window.padding != "valid" && window.padding != "same" &&
      !(window.padding == "causal" && causal_ok)) {
    return MakeError("padding '{}' is not supported; expected valid, same{}", window.padding,
                     causal_ok ? " or causal" : "");
  }
  for (int i = 0; i < rank; ++i) {
    if (window.kernel[i] <= 0 || window.strides[i] <= 0 || window.dilation[i] <= 0) {
      return MakeError("kernel_size {}, strides {} and dilation_rate {} must be positive",
                       FormatList(window.kernel), FormatList(window.strides),
                       FormatList(window.dilation));
    }
  }
  return window;
}

std::int64_t ChannelsOf(const WindowConfig& window, const Shape& shape) {
  return window.channels_last ? shape.back() : shape[1];
}

Shape SpatialOf(const WindowConfig& window, const Shape& shape) {
  const std::size_t start = window.channels_last ? 1 : 2;
  return Shape(shape.begin() + static_cast<long>(start),
               shape.begin() + static_cast<long>(start) + window.rank);
}

Shape WindowOutputShape(const WindowConfig& window, const Shape& in, std::int64_t channels) {
  const Shape spatial = SpatialOf(window, in);
  Shape out = {in[0]};
  if (!window.channels_last) out.push_back(channels);
  for (int i = 0; i < window.rank; ++i) {
    out.push_back(WindowOutputSize(spatial[i], window.kernel[i], window.strides[i],
                                   window.dilation[i], window.padding));
  }
  if (window.channels_last) out.push_back(channels);
  return out;
}

PaddingPlan PlanConvPadding(const WindowConfig& window, const Shape& spatial) {
  PaddingPlan plan;
  if (window.padding == "valid") return plan;
  if (window.padding == "causal") {
    plan.forward_prefix = "F.pad(";
    plan.forward_suffix = fmt::format(", ({}, 0))", window.dilation[0] * (window.kernel[0] - 1));
    return plan;
  }
  const auto one = [](std::int64_t v) { return v == 1; };
  if (std::all_of(window.strides.begin(), window.strides.end(), one)) {
    // PyTorch's 'same' puts the odd pixel after, as TF does.
    plan.module_argument = ", padding=\"same\"";
    return plan;
  }
  const auto known = [](std::int64_t d) { return d >= 0; };
  if (!std::all_of(spatial.begin(), spatial.end(), known)) {
    plan.needs_helper = true;
    plan.forward_prefix = "_pad_same(";
    plan.forward_suffix = fmt::format(", {}, {}, {})", PyTuple(window.kernel),
                                      PyTuple(window.strides), PyTuple(window.dilation));
    return plan;
  }
  std::vector<PadPair> pads;
  bool symmetric = true;
  for (int i = 0; i < window.rank; ++i) {
    pads.push_back(SamePadding(spatial[i], window.kernel[i], window.strides[i],
                               window.dilation[i]));
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

std::string StrideDilationArguments(const WindowConfig& window) {
  std::string out;
  const auto one = [](std::int64_t v) { return v == 1; };
  if (!std::all_of(window.strides.begin(), window.strides.end(), one)) {
    out += ", stride=" + IntOrTuple(window.strides);
  }
  if (!std::all_of(window.dilation.begin(), window.dilation.end(), one)) {
    out += ", dilation=" + IntOrTuple(window.dilation);
  }
  return out;
}

std::vector<int> KernelToTorch(int rank) {
  std::vector<int> perm = {rank + 1, rank};
  for (int i = 0; i < rank; ++i) perm.push_back(i);
  return perm;
}

}  // namespace k2t::layers
