//===- layers/weights_transform.cc - Keras -> PyTorch weight rearrangements -===//
#include "layers/weights_transform.h"

namespace k2t::layers {

Param CopyParam(const std::string& key, int source, const Shape& shape) {
  Param param;
  param.key = key;
  param.shape = shape;
  param.sources = {source};
  param.transform = [](std::vector<Tensor> sources) -> Expected<Tensor> {
    return std::move(sources[0]);
  };
  return param;
}

Param PermutedParam(const std::string& key, int source, const Shape& keras_shape,
                    const std::vector<int>& perm) {
  Param param;
  param.key = key;
  for (int axis : perm) param.shape.push_back(keras_shape[static_cast<std::size_t>(axis)]);
  param.sources = {source};
  param.transform = [perm](std::vector<Tensor> sources) -> Expected<Tensor> {
    return sources[0].Permute(perm);
  };
  return param;
}

Tensor ReorderFeatures(const Tensor& values, const ir::Layout::FeatureOrder& features) {
  // values: (features..., rest) with the feature axis first, flattened.
  Shape unflat = features.dims;
  const std::int64_t rest = values.size() / values.shape()[0];
  unflat.push_back(rest);
  std::vector<int> perm(features.order.begin(), features.order.end());
  perm.push_back(static_cast<int>(features.dims.size()));
  Tensor reordered = values.Reshape(unflat).Permute(perm);
  return reordered.Reshape(values.shape());
}

Param LinearWeight(const std::string& key, int source, std::int64_t in, std::int64_t units,
                   const std::optional<ir::Layout::FeatureOrder>& features) {
  Param param;
  param.key = key;
  param.shape = {units, in};
  param.sources = {source};
  param.transform = [features](std::vector<Tensor> sources) -> Expected<Tensor> {
    Tensor kernel = std::move(sources[0]);  // (in, units)
    // Rows follow Keras's flatten order (h, w, c); the input arrives as (c, h, w).
    if (features) kernel = ReorderFeatures(kernel, *features);
    return kernel.Permute({1, 0});  // (in, units) -> (units, in)
  };
  return param;
}

}  // namespace k2t::layers
