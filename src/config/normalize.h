//===- config/normalize.h - Every Keras dialect into one canonical form ----===//
#pragma once

#include "config/model_spec.h"
#include "readers/model_file.h"

namespace k2t::config {

// Reads which Keras wrote the file from its recorded version and, when that
// is missing, from the dialect of the config itself.
KerasInfo DetectKeras(const ModelFile& file);

Expected<NormalizedModel> Normalize(const ModelFile& file);

// Canonical class name for Keras aliases ("Convolution2D" -> "Conv2D",
// "Model" -> "Functional", "MaxPool2D" -> "MaxPooling2D", ...).
std::string CanonicalClassName(const std::string& class_name);

// True for classes that hold a whole model (Functional, Sequential, and
// custom subclasses that serialize a Functional config).
bool IsModelConfig(const std::string& class_name, const Json& config);

}  // namespace k2t::config
