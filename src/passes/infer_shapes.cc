//===- passes/infer_shapes.cc - Keras shapes of every tensor ----------------===//
//
// Static shapes flow from the model inputs through every call, in graph
// order. Converters need them for in_features, flatten sizes and 'same'
// padding; the generated code shows them in its comments.
//
//===----------------------------------------------------------------------===//
#include <algorithm>

#include "passes/conversion.h"
#include "support/strings.h"

namespace k2t::passes {
namespace {

Expected<Shape> InputShape(const config::LayerSpec& spec) {
  for (const char* key : {"batch_shape", "batch_input_shape"}) {
    if (!spec.config.contains(key)) continue;
    const Json& shape = spec.config[key];
    if (!shape.is_array() || shape.empty()) break;
    Shape out;
    for (const Json& dim : shape) {
      if (dim.is_null()) {
        out.push_back(-1);
      } else if (dim.is_number_integer() && dim.get<std::int64_t>() >= 0) {
        out.push_back(dim.get<std::int64_t>());
      } else {
        return MakeError("input shape {} has an invalid size", Abbreviate(shape));
      }
    }
    out[0] = -1;  // the batch size is the caller's choice, even if Keras fixed it
    return out;
  }
  return MakeError("the input layer records no shape");
}

DType InputDType(const config::LayerSpec& spec) {
  // Keras 1 names the key input_dtype.
  std::string dtype = "float32";
  for (const char* key : {"dtype", "input_dtype"}) {
    const auto it = spec.config.find(key);
    if (it != spec.config.end() && it->is_string()) dtype = it->get<std::string>();
  }
  if (dtype == "int32") return DType::kI32;
  if (dtype == "int64") return DType::kI64;
  if (dtype == "uint8") return DType::kU8;
  if (dtype == "bool") return DType::kBool;
  if (dtype == "float64") return DType::kF64;
  if (dtype == "float16") return DType::kF16;
  return DType::kF32;
}

// The input shape a consumer was built with (Keras 3 and tf.keras 2.13+
// record it), for tensors whose producer cannot say (custom layers).
Shape ShapeFromConsumers(const ir::Graph& graph, const ir::Value& value) {
  for (int consumer : value.consumers) {
    const ir::Node& node = graph.nodes[static_cast<std::size_t>(consumer)];
    const Json& build = graph.layer_of(node).spec->build_config;
    if (!build.is_object() || !build.contains("input_shape")) continue;
    Json shape = build["input_shape"];
    const auto slot = std::find(node.inputs.begin(), node.inputs.end(), value.id);
    if (slot == node.inputs.end()) continue;
    // Several inputs: a list of shapes, one per input.
    if (node.inputs.size() > 1) {
      const auto index = static_cast<std::size_t>(slot - node.inputs.begin());
      if (!shape.is_array() || index >= shape.size()) continue;
      shape = shape[index];
    }
    if (!shape.is_array() || shape.empty()) continue;
    Shape out;
    for (const Json& d : shape) {
      if (d.is_number_integer()) {
        out.push_back(d.get<std::int64_t>());
      } else if (d.is_null()) {
        out.push_back(-1);
      } else {
        out.clear();
        break;
      }
    }
    if (!out.empty()) {
      out[0] = -1;
      return out;
    }
  }
  return {};
}

}  // namespace

Status InferShapes(Conversion& conversion) {
  ir::Graph& graph = conversion.graph;
  for (std::size_t i = 0; i < graph.inputs.size(); ++i) {
    const config::LayerSpec* spec = nullptr;
    for (const ir::Layer& layer : graph.layers) {
      if (layer.class_name == "InputLayer" && layer.scope.empty() &&
          layer.name == graph.input_names[i]) {
        spec = layer.spec;
      }
    }
    if (!spec) return MakeError("model input '{}' has no InputLayer", graph.input_names[i]);
    auto shape = InputShape(*spec);
    if (!shape.ok()) return std::move(shape.error().AtLayer(spec->name, "InputLayer"));
    ir::Value& value = graph.value(graph.inputs[i]);
    value.shape = *shape;
    value.dtype = InputDType(*spec);
  }

  for (ir::Node& node : graph.nodes) {
    const ir::Layer& layer = graph.layer_of(node);
    const layers::Converter& converter = conversion.ConverterOf(node);
    auto shapes = converter.InferShapes(conversion.Context(node));
    if (!shapes.ok()) return AtLayer(std::move(shapes).error(), layer);
    if (shapes->size() < node.outputs.size()) {
      return AtLayer(MakeError("output {} is used, but the layer has {} output(s)",
                               node.outputs.size() - 1, shapes->size()),
                     layer);
    }
    // Outputs nobody references still get Values, for tuple unpacking.
    while (node.outputs.size() < shapes->size()) {
      node.outputs.push_back(graph.NewValue(node.id, static_cast<int>(node.outputs.size()),
                                            layer.QualifiedName()));
    }
    for (std::size_t t = 0; t < shapes->size(); ++t) {
      ir::Value& value = graph.value(node.outputs[t]);
      value.shape = (*shapes)[t];
      if (value.shape.empty()) value.shape = ShapeFromConsumers(graph, value);
      if (!node.inputs.empty()) value.dtype = DType::kF32;
    }
  }
  return Status::Ok();
}

}  // namespace k2t::passes
