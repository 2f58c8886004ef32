//===- config/model_spec.h - The canonical form of a Keras model config ----===//
//
// Five config dialects exist (keras-formats.md §5): Keras 1, Keras 2 and
// tf.keras lists, tf.keras's module/registered_name envelope, and Keras 3's
// args/kwargs graph encoding. Normalization turns each into this one form, in
// which a Sequential model is a Functional one with an explicit input, every
// layer call is a CallSpec with resolved tensor references, and node indices
// are plain 0-based positions in the layer's list of calls (the nested-model
// offsets of Keras 2 and Keras 3 are removed). Nothing after normalization
// knows which Keras wrote the file, except through KerasInfo.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/json.h"

namespace k2t::config {

// Which Keras wrote the file; only semantics that changed between versions
// (hard_sigmoid, default activations, fused BatchNorm epsilon) consult this.
struct KerasInfo {
  std::string version;  // as recorded, "" if unknown
  int major = 2;        // 1, 2 or 3
  bool tf_keras = true;  // Keras 2 as shipped in TensorFlow 2 (or tf-keras)
  std::string backend;   // "tensorflow", "theano", "jax", "torch", ... or ""
  std::string Describe() const;
};

// Output `tensor` of call number `node` of `layer`.
struct TensorRef {
  std::string layer;
  int node = 0;
  int tensor = 0;
  bool operator==(const TensorRef&) const = default;
};

struct CallSpec {
  // Every tensor argument, in the order it appears in the call's arguments.
  std::vector<TensorRef> inputs;
  // True when the first argument was a list of tensors (merge layers).
  bool list_input = false;
  // Tensor keyword arguments (mask, initial_state, value, ...), by keyword.
  std::vector<std::pair<std::string, TensorRef>> tensor_kwargs;
  // The other keyword arguments (training, ...), as written.
  Json kwargs = Json::object();
  // Keras 3: the positional arguments as written, each tensor replaced by
  // {"__input__": k} (its index in `inputs`); constants stay (x + 3.0).
  Json args = Json::array();
};

struct ModelSpec;

struct LayerSpec {
  std::string name;
  std::string class_name;        // canonical Keras 2/3 class name
  std::string module;            // "keras.layers", a user module, or ""
  std::string registered_name;   // "package>Name" for registered custom classes
  Json config = Json::object();  // canonical keys
  Json build_config;             // Keras 3 / tf.keras 2.13+: the build input shape
  std::vector<CallSpec> calls;
  std::shared_ptr<ModelSpec> model;  // set for nested Functional/Sequential models
};

// A shape as Keras records it: batch and other unknown sizes are -1.
using RecordedShape = std::vector<std::int64_t>;

struct ModelSpec {
  std::string name;
  std::string class_name;  // "Functional" or "Sequential", as the file says
  std::vector<LayerSpec> layers;
  std::vector<TensorRef> inputs;
  std::vector<TensorRef> outputs;
  // Names of the outputs as Keras reports them (dict-valued outputs keep their keys).
  std::vector<std::string> output_names;
  // Shapes Keras 3 wrote beside each tensor reference, keyed by the tensor.
  std::vector<std::pair<TensorRef, RecordedShape>> recorded_shapes;

  const LayerSpec* Find(const std::string& layer_name) const;
};

struct NormalizedModel {
  KerasInfo keras;
  ModelSpec model;
};

}  // namespace k2t::config
