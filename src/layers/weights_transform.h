//===- layers/weights_transform.h - Keras -> PyTorch weight rearrangements -===//
#pragma once

#include "ir/graph.h"
#include "layers/converter.h"

namespace k2t::layers {

// Copies a Keras weight unchanged.
Param CopyParam(const std::string& key, int source, const Shape& shape);
// A Keras weight permuted: torch axis i takes Keras axis perm[i]. "HWIO -> OIHW" is (3, 2, 0, 1).
Param PermutedParam(const std::string& key, int source, const Shape& keras_shape,
                    const std::vector<int>& perm);

// The Dense kernel (in, units) as nn.Linear's weight (units, in), with its rows
// reordered when the input features arrive in a flattened channels-first order.
Param LinearWeight(const std::string& key, int source, std::int64_t in, std::int64_t units,
                   const std::optional<ir::Layout::FeatureOrder>& features);

// Reorders a vector of per-feature values (BatchNorm statistics after a
// Flatten, for example) the way `features` reorders the features.
Tensor ReorderFeatures(const Tensor& values, const ir::Layout::FeatureOrder& features);

}  // namespace k2t::layers
