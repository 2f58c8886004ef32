//===- passes/conversion.cc - The state the passes share --------------------===//
#include "passes/conversion.h"

namespace k2t::passes {

layers::CallContext Conversion::Context(const ir::Node& node) const {
  const ir::Layer& layer = graph.layer_of(node);
  const auto id = static_cast<std::size_t>(layer.id);
  const std::vector<WeightRef>* bound = id < weights.size() ? &weights[id] : nullptr;
  layers::CallContext context{graph, layer, node, model.keras, bound};
  context.keras_order_output = keras_order_nodes.count(node.id) > 0;
  return context;
}

const layers::Converter& Conversion::ConverterOf(const ir::Node& node) const {
  return *converters[static_cast<std::size_t>(node.layer)];
}

Error AtLayer(Error error, const ir::Layer& layer) {
  error.AtLayer(layer.QualifiedName(), layer.class_name);
  return error;
}

}  // namespace k2t::passes
