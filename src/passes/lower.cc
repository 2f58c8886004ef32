//===- passes/lower.cc - What each layer becomes in PyTorch ----------------===//
#include <map>

#include "passes/conversion.h"
#include "support/strings.h"

namespace k2t::passes {

Status Lower(Conversion& conversion) {
  const ir::Graph& graph = conversion.graph;
  conversion.lowerings.assign(graph.layers.size(), {});
  for (const ir::Layer& layer : graph.layers) {
    if (layer.nodes.empty()) continue;
    const ir::Node& first = graph.nodes[static_cast<std::size_t>(layer.nodes[0])];
    auto lowering = conversion.ConverterOf(first).Lower(conversion.Context(first));
    if (!lowering.ok()) return AtLayer(std::move(lowering).error(), layer);
    conversion.lowerings[static_cast<std::size_t>(layer.id)] = std::move(*lowering);
  }

  // Two layers may define a helper class of the same name with different
  // bodies (two skeletons of one custom class with different weights): give
  // the later ones their own name.
  std::map<std::string, std::string> sources;
  for (layers::Lowering& lowering : conversion.lowerings) {
    for (auto& [name, source] : lowering.definitions) {
      const auto it = sources.find(name);
      if (it == sources.end() || it->second == source) {
        sources[name] = source;
        continue;
      }
      std::string renamed;
      for (int k = 2;; ++k) {
        renamed = name + std::to_string(k);
        if (!sources.count(renamed)) break;
      }
      const std::string old_head = "class " + name + "(";
      if (StartsWith(source, old_head)) source = "class " + renamed + "(" + source.substr(old_head.size());
      if (StartsWith(lowering.module, name + "(")) {
        lowering.module = renamed + lowering.module.substr(name.size());
      }
      name = renamed;
      sources[name] = source;
    }
  }
  return Status::Ok();
}

}  // namespace k2t::passes
