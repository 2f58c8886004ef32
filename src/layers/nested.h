//===- layers/nested.h - Layers configured inside another layer -------------===//
//
// Some layers carry the config of another layer they apply: TimeDistributed's
// `layer`, the `cell` of an RNN, the cells of StackedRNNCells. Such an inner
// layer is converted by its own registered converter, asked about a small
// graph of its own: values with the shapes and layouts the wrapper gives it
// and one node per inner call. The wrapper then translates the answers
// (shapes, weights, layouts, module, call expression) to its own call.
//
// A NestedGraph is cheap to build and is rebuilt for every question; the
// CallContexts it hands out refer into it, so it is neither copied nor moved.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "layers/converter.h"

namespace k2t::layers {

class NestedGraph {
 public:
  explicit NestedGraph(const config::KerasInfo& keras) : keras_(keras) {}
  NestedGraph(const NestedGraph&) = delete;
  NestedGraph& operator=(const NestedGraph&) = delete;

  // A value the inner calls read: an input of the wrapper, reshaped or not.
  int AddValue(const Shape& shape, const ir::Layout& layout = {}, DType dtype = DType::kF32);

  // A call of the layer of `class_name` (canonicalised) and `config` on
  // `inputs`; its outputs get the shapes the inner converter infers. Returns
  // the node id. Unsupported classes are an error naming the class.
  Expected<int> AddCall(const std::string& class_name, const Json& config,
                        const std::string& name, std::vector<int> inputs,
                        std::vector<std::pair<std::string, int>> tensor_kwargs = {});

  const ir::Value& value(int id) const { return graph_.value(id); }
  ir::Value& value(int id) { return graph_.value(id); }
  const ir::Node& node(int id) const { return graph_.nodes[static_cast<std::size_t>(id)]; }
  const Converter& converter(int node) const { return *converters_[static_cast<std::size_t>(node)]; }

  // What the inner converter is asked with; `weights` are the inner layer's
  // bound weights (a subset of the wrapper's, in order), when known.
  CallContext Context(int node, const std::vector<WeightRef>* weights = nullptr) const;

 private:
  config::KerasInfo keras_;
  ir::Graph graph_;
  std::vector<const Converter*> converters_;  // by node (each node has its own layer)
};

// The config object of a nested layer (`{"class_name": ..., "config": ...}`)
// stored under `key`, with a readable error when it is missing.
Expected<std::pair<std::string, const Json*>> NestedLayerConfig(const Json& config,
                                                                 const std::string& key);

// The expression `expr` of a tensor laid out as `value` says, permuted back to
// Keras's own axis order (for tensor arguments, which the planner leaves alone).
// A flattened channels-first feature order cannot be undone here: an error.
Expected<std::string> InKerasOrder(const ir::Value& value, const std::string& expr);

}  // namespace k2t::layers
