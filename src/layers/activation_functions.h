//===- layers/activation_functions.h - Keras activations as PyTorch --------===//
//
// Used by the Activation layer and by every layer with an `activation`
// argument. Meanings that changed between Keras versions (hard_sigmoid, the
// default slope of leaky_relu) are resolved here from KerasInfo.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <string>

#include "config/model_spec.h"
#include "layers/converter.h"
#include "support/json.h"

namespace k2t::layers {

// The activation's name from a config value: a string, null (linear), or a
// Keras 3 serialized built-in function. Custom functions are an error.
Expected<std::string> ActivationName(const Json& value);

// Python expression applying activation `name` to `x`. `channel_dim` is the
// PyTorch dim of the Keras last axis, for softmax-like activations.
Expected<std::string> ActivationExpression(const std::string& name, const std::string& x,
                                           const config::KerasInfo& keras, int channel_dim,
                                           Lowering* lowering);

// The Keras output shape of activation `name` on an input of Keras shape
// `shape`: glu halves the last axis (and needs it even); the others keep it.
Expected<Shape> ActivationShape(const std::string& name, Shape shape);

// The Keras last axis of `value` as a PyTorch dim.
int LastAxisDim(const ir::Value& value);

}  // namespace k2t::layers
