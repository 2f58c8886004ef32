//===- emit/safetensors_writer.h - Streaming safetensors output ------------===//
//
// The header is computed from the known shapes first; then each tensor is
// produced (read from the Keras file and transformed), written and dropped,
// so that memory stays near the largest tensor rather than the model's size.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "support/error.h"
#include "support/tensor.h"

namespace k2t {

struct SafetensorsEntry {
  std::string key;
  DType dtype = DType::kF32;
  Shape shape;
  std::function<Expected<Tensor>()> produce;
};

// Writes entries sorted by key. Floating tensors are stored as `dtype`.
Status WriteSafetensors(const std::string& path, std::vector<SafetensorsEntry> entries,
                        const std::map<std::string, std::string>& metadata);

}  // namespace k2t
