//===- readers/tfjs.h - TensorFlow.js layers models --------------------------===//
//
// tensorflowjs's Keras converter (and tfjs-layers' model.save) writes a
// model.json holding the Keras config under `modelTopology` and a
// `weightsManifest`: groups of weights, each group's tensors concatenated in
// order and cut into shard files beside model.json. Weights may be stored
// quantized (uint8, uint16 or float16); they are dequantized as TensorFlow.js
// does when read.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <string>

#include "readers/model_file.h"
#include "support/json.h"

namespace k2t {

// True when the parsed JSON is a TensorFlow.js model (layers or graph).
bool IsTfjsModel(const Json& document);

// The model of a TensorFlow.js model.json already parsed from `path`.
Expected<ModelFile> ReadTfjsModel(const std::string& path, const Json& document,
                                  const ReadOptions& options);

}  // namespace k2t
