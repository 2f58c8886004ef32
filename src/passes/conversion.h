//===- passes/conversion.h - The state the passes share ---------------------===//
//
// The pipeline, one pass per file, in order:
//
//   resolve_converters  pick a converter for every layer; list all unsupported at once
//   infer_shapes        Keras output shapes of every call
//   propagate_masks     masks (mask_zero, Masking) as tensors, passed to the layers using them
//   bind_weights        find each layer's weights in the file, check their shapes
//   plan_layout         choose each tensor's axis order; insert the permutes that remain
//   lower               what each layer becomes in PyTorch, and its weight transforms
//
// after which emit/ writes model.py, model.safetensors and the report.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "config/model_spec.h"
#include "ir/graph.h"
#include "layers/converter.h"
#include "layers/custom.h"
#include "readers/model_file.h"

namespace k2t::passes {

enum class IoLayout { kTorch, kKeras };

struct Options {
  IoLayout io_layout = IoLayout::kTorch;
  const layers::CustomMappings* custom = nullptr;
};

// A layout change the planner could not avoid: input `input` of node `node`
// is permuted from `from` to `to` before the call.
struct LayoutChange {
  int node = -1;  // -1: a model output
  int input = 0;
  ir::Layout from;
  ir::Layout to;
  bool at_boundary = false;  // at the model's inputs or outputs (io-layout keras)
};

struct Conversion {
  const ModelFile* file = nullptr;
  config::NormalizedModel model;
  ir::Graph graph;
  Options options;

  // By layer id.
  std::vector<const layers::Converter*> converters;
  std::vector<std::shared_ptr<const layers::Converter>> owned_converters;
  std::vector<std::vector<layers::WeightSpec>> weight_specs;
  std::vector<std::vector<WeightRef>> weights;
  std::vector<layers::Lowering> lowerings;

  std::vector<LayoutChange> layout_changes;
  std::set<int> keras_order_nodes;  // nodes whose outputs must be in Keras order
  std::vector<std::string> warnings;

  layers::CallContext Context(const ir::Node& node) const;
  const layers::Converter& ConverterOf(const ir::Node& node) const;
};

Status ResolveConverters(Conversion& conversion);
Status InferShapes(Conversion& conversion);
Status PropagateMasks(Conversion& conversion);
Status BindWeights(Conversion& conversion);
Status PlanLayout(Conversion& conversion);
Status Lower(Conversion& conversion);

// Attaches the layer's name and class to an error from its converter.
Error AtLayer(Error error, const ir::Layer& layer);

}  // namespace k2t::passes
