//===- layers/nested.cc - Layers configured inside another layer ------------===//
#include "layers/nested.h"

#include <fmt/format.h>

#include "config/normalize.h"
#include "layers/registry.h"
#include "support/strings.h"

namespace k2t::layers {

int NestedGraph::AddValue(const Shape& shape, const ir::Layout& layout, DType dtype) {
  const int id = graph_.NewValue(-1, 0, "nested");
  ir::Value& v = graph_.value(id);
  v.shape = shape;
  v.layout = layout;
  v.dtype = dtype;
  return id;
}

Expected<int> NestedGraph::AddCall(const std::string& class_name, const Json& config,
                                   const std::string& name, std::vector<int> inputs,
                                   std::vector<std::pair<std::string, int>> tensor_kwargs) {
  const std::string canonical = config::CanonicalClassName(class_name);
  if (config::IsModelConfig(canonical, config)) {
    return MakeError("a {} model inside this layer is not supported; apply the layer to the "
                     "model's layers one by one",
                     PrintableText(canonical));
  }
  const Converter* converter = Registry::Get().Find(canonical);
  if (!converter) {
    return MakeError("the wrapped Keras class {} is not supported", PrintableText(canonical));
  }
  config::LayerSpec spec;
  spec.name = name;
  spec.class_name = canonical;
  spec.config = config;
  // The model normaliser rewrites top-level layer configs only; a wrapped
  // tf.keras BatchNormalization still has its axis as a one-element list.
  if (spec.config.is_object() && spec.config.contains("axis") &&
      canonical != "LayerNormalization") {
    Json& axis = spec.config["axis"];
    if (axis.is_array() && axis.size() == 1) axis = Json(axis[0]);
  }
  const int layer = graph_.AddSyntheticLayer(std::move(spec), "");

  ir::Node node;
  node.id = static_cast<int>(graph_.nodes.size());
  node.layer = layer;
  node.inputs = std::move(inputs);
  node.tensor_kwargs = std::move(tensor_kwargs);
  for (int input : node.inputs) graph_.value(input).consumers.push_back(node.id);
  for (const auto& [key, input] : node.tensor_kwargs) {
    graph_.value(input).consumers.push_back(node.id);
  }
  graph_.layers[static_cast<std::size_t>(layer)].nodes.push_back(node.id);
  graph_.nodes.push_back(node);
  converters_.push_back(converter);

  // Output shapes, as the shape pass would give them.
  K2T_ASSIGN_OR_RETURN(std::vector<Shape> shapes, converter->InferShapes(Context(node.id)));
  ir::Node& stored = graph_.nodes.back();
  for (std::size_t t = 0; t < shapes.size(); ++t) {
    const int value = graph_.NewValue(stored.id, static_cast<int>(t), name);
    graph_.value(value).shape = shapes[t];
    stored.outputs.push_back(value);
  }
  return stored.id;
}

CallContext NestedGraph::Context(int node, const std::vector<WeightRef>* weights) const {
  const ir::Node& n = graph_.nodes[static_cast<std::size_t>(node)];
  CallContext context{graph_, graph_.layer_of(n), n, keras_, weights};
  // A Flatten inside a wrapper flattens in Keras's order: the wrapper cannot
  // carry a flattened channels-first order out of itself.
  context.keras_order_output = true;
  return context;
}

Expected<std::pair<std::string, const Json*>> NestedLayerConfig(const Json& config,
                                                                 const std::string& key) {
  const auto it = config.find(key);
  if (it == config.end() || !it->is_object() || !it->contains("class_name") ||
      !(*it)["class_name"].is_string()) {
    return MakeError("the config has no wrapped '{}' with a class_name", key);
  }
  const Json& inner = *it;
  static const Json empty = Json::object();
  const Json* inner_config = inner.contains("config") && inner["config"].is_object()
                                 ? &inner["config"]
                                 : &empty;
  return std::make_pair(inner["class_name"].get<std::string>(), inner_config);
}

Expected<std::string> InKerasOrder(const ir::Value& value, const std::string& expr) {
  if (value.layout.features) {
    return MakeError("a tensor argument arrives flattened in channels-first order, which this "
                     "layer cannot take");
  }
  if (value.layout.IsIdentity()) return expr;
  // torch axis i holds Keras axis perm[i]; Keras axis k is found at torch axis where[k].
  const auto& perm = value.layout.perm;
  std::vector<std::string> where(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) {
    where[static_cast<std::size_t>(perm[i])] = std::to_string(i);
  }
  return fmt::format("{}.permute({})", expr, Join(where, ", "));
}

}  // namespace k2t::layers
