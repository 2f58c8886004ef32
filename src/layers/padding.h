//===- layers/padding.h - TensorFlow's 'same' padding, exactly --------------===//
//
// TF pads `total = max((ceil(in / s) - 1) * s + (k - 1) * d + 1 - in, 0)` and
// puts the odd pixel after: (total / 2, total - total / 2). PyTorch's integer
// padding is symmetric, so an asymmetric pair needs an explicit F.pad.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace k2t::layers {

struct PadPair {
  std::int64_t before = 0;
  std::int64_t after = 0;
  bool symmetric() const { return before == after; }
};

PadPair SamePadding(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                    std::int64_t dilation);

// Output size of a convolution or pooling window along one axis; -1 if unknown.
std::int64_t WindowOutputSize(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                              std::int64_t dilation, const std::string& padding);

// The F.pad argument for pairs on the trailing spatial dims of a
// channels-first tensor, last dim first: (left, right, top, bottom).
std::string FPadArgument(const std::vector<PadPair>& pads);

// Formats one value or a tuple: "3" when all equal, else "(3, 5)".
std::string IntOrTuple(const std::vector<std::int64_t>& values);
// A Python tuple literal: "(3, 5)", "(3,)".
std::string PyTuple(const std::vector<std::int64_t>& values);

}  // namespace k2t::layers
