//===- layers/conv_common.h - What convolution-like layers share ------------===//
//
// Window configs (kernel, strides, dilation, padding, data format) and the
// way the generated code pads before a convolution: nothing for 'valid',
// PyTorch's own symmetric padding where TF's 'same' is symmetric, and an
// explicit F.pad (or a helper when sizes are unknown) where TF puts the odd
// pixel after.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <string>
#include <vector>

#include "layers/converter.h"
#include "layers/padding.h"

namespace k2t::layers {

struct WindowConfig {
  int rank = 2;
  std::vector<std::int64_t> kernel, strides, dilation;
  std::string padding;  // "valid", "same" or "causal"
  bool channels_last = true;
};

// Reads kernel_size, strides, dilation_rate, padding and data_format.
Expected<WindowConfig> ReadWindow(const CallContext& call, int rank, bool allow_causal);

std::int64_t ChannelsOf(const WindowConfig& window, const Shape& shape);
Shape SpatialOf(const WindowConfig& window, const Shape& shape);
// The output shape of a window op with `channels` output channels.
Shape WindowOutputShape(const WindowConfig& window, const Shape& in, std::int64_t channels);

struct PaddingPlan {
  std::string module_argument;  // ", padding=..." or ""
  std::string forward_prefix;   // wraps the input expression: prefix + x + suffix
  std::string forward_suffix;
  bool needs_helper = false;    // uses _pad_same
};

PaddingPlan PlanConvPadding(const WindowConfig& window, const Shape& spatial);

// Definition of the _pad_same helper for generated code.
extern const char* const kPadSameSource;

// ", stride=2, dilation=(1, 2)" for the non-default arguments.
std::string StrideDilationArguments(const WindowConfig& window);

// Keras (k..., a, b) -> PyTorch (b, a, k...): (rank+1, rank, 0, ..., rank-1).
std::vector<int> KernelToTorch(int rank);

}  // namespace k2t::layers
