//===- layers/padding.cc - TensorFlow's 'same' padding, exactly -------------===//
#include "layers/padding.h"

#include <algorithm>

#include "support/strings.h"

namespace k2t::layers {

PadPair SamePadding(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                    std::int64_t dilation) {
  const std::int64_t effective = (kernel - 1) * dilation + 1;
  const std::int64_t out = (in + stride - 1) / stride;
  const std::int64_t total = std::max<std::int64_t>((out - 1) * stride + effective - in, 0);
  return {total / 2, total - total / 2};
}

std::int64_t WindowOutputSize(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                              std::int64_t dilation, const std::string& padding) {
  if (in < 0) return -1;
  const std::int64_t effective = (kernel - 1) * dilation + 1;
  if (padding == "same" || padding == "causal") return (in + stride - 1) / stride;
  if (in < effective) return 0;
  return (in - effective) / stride + 1;
}

std::string FPadArgument(const std::vector<PadPair>& pads) {
  std::vector<std::string> parts;
  for (auto it = pads.rbegin(); it != pads.rend(); ++it) {
    parts.push_back(std::to_string(it->before));
    parts.push_back(std::to_string(it->after));
  }
  return "(" + Join(parts, ", ") + ")";
}

std::string IntOrTuple(const std::vector<std::int64_t>& values) {
  if (values.size() == 1 || std::all_of(values.begin(), values.end(),
                                        [&](std::int64_t v) { return v == values[0]; })) {
    return std::to_string(values[0]);
  }
  return PyTuple(values);
}

std::string PyTuple(const std::vector<std::int64_t>& values) {
  std::vector<std::string> parts;
  for (auto v : values) parts.push_back(std::to_string(v));
  return "(" + Join(parts, ", ") + (parts.size() == 1 ? ",)" : ")");
}

}  // namespace k2t::layers
