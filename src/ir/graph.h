//===- ir/graph.h - The model as a graph of layer calls ---------------------===//
//
// A Layer owns a config and weights; a Node is one call of a layer; a Value is
// one tensor. A shared layer called twice is one Layer with two Nodes. Nested
// models are inlined: their layers become Layers of this graph (named by their
// scope), and each call of the nested model adds its inner nodes again over
// the same Layers, so weights stay shared exactly as in Keras.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "config/model_spec.h"
#include "support/json.h"
#include "support/limits.h"
#include "support/tensor.h"

namespace k2t::ir {

// Where a Value's PyTorch tensor keeps each Keras axis. torch axis i holds
// Keras axis perm[i]; an empty perm is the identity.
struct Layout {
  std::vector<int> perm;

  // Set on the rank-2 output of a Flatten whose input was stored channels
  // first: the features are in the order of `dims` permuted by `order`, not in
  // Keras's order, and a following Dense absorbs that into its weight rows.
  struct FeatureOrder {
    Shape dims;              // the flattened Keras dims, batch excluded (H, W, C)
    std::vector<int> order;  // feature index order in torch, over dims (C, H, W = 2, 0, 1)
    int origin_node = -1;    // the Flatten that produced it
    bool operator==(const FeatureOrder&) const = default;
  };
  std::optional<FeatureOrder> features;

  bool IsIdentity() const;
  // The axes in PyTorch order (the identity when perm is empty).
  std::vector<int> Axes(int rank) const;
  bool operator==(const Layout& other) const;
  std::string Describe() const;

  static Layout Identity() { return {}; }
  // Channels last -> channels first for a tensor of this rank: (0, r-1, 1, ..., r-2).
  static Layout ChannelsFirst(int rank);
};

struct Value {
  int id = -1;
  Shape shape;  // Keras shape including batch; -1 where unknown; empty if unknown rank
  Shape recorded_shape;  // the shape Keras 3 wrote in the config, if any
  DType dtype = DType::kF32;
  int producer = -1;  // node id; -1 for a model input
  int output_index = 0;
  std::string name;  // a readable name (the layer that produced it)
  Layout layout;     // set by the layout planner
  std::vector<int> consumers;  // node ids, in order
};

struct Layer {
  int id = -1;
  std::string name;   // Keras name
  std::string scope;  // "" at top level, "encoder/" inside a nested model
  std::string class_name;
  const config::LayerSpec* spec = nullptr;
  std::vector<int> nodes;  // calls, in graph order

  // Where this layer's weights live.
  std::string legacy_group;      // top-level group in a legacy weights file
  std::string legacy_sublayer;   // the layer's name inside that group, for nested models
  std::string v3_path;           // e.g. "layers/sequential/layers/dense"

  const Json& config() const { return spec->config; }
  std::string QualifiedName() const { return scope + name; }
};

struct Node {
  int id = -1;
  int layer = -1;
  int call_index = 0;  // which call of the layer in its model
  std::vector<int> inputs;
  std::vector<std::pair<std::string, int>> tensor_kwargs;
  const config::CallSpec* call = nullptr;
  std::vector<int> outputs;
};

struct Graph {
  std::vector<Layer> layers;
  std::vector<Node> nodes;  // in an order where every input is computed first
  std::vector<Value> values;
  std::vector<int> inputs;   // value ids, in the Keras model's input order
  std::vector<int> outputs;  // value ids, in the Keras model's output order
  std::vector<std::string> input_names;
  std::vector<std::string> output_names;
  std::string model_name;
  std::string model_class;

  Value& value(int id) { return values[static_cast<std::size_t>(id)]; }
  const Value& value(int id) const { return values[static_cast<std::size_t>(id)]; }
  Layer& layer_of(const Node& node) { return layers[static_cast<std::size_t>(node.layer)]; }
  const Layer& layer_of(const Node& node) const {
    return layers[static_cast<std::size_t>(node.layer)];
  }
  int NewValue(int producer, int output_index, const std::string& name);
  // Inserts `node` before position `position` of `nodes` and renumbers node
  // ids everywhere (ids equal positions). Returns the inserted node's id.
  int InsertNode(std::size_t position, Node node);
  // A layer keras2torch adds itself (mask computations); `spec` is kept here.
  int AddSyntheticLayer(config::LayerSpec spec, const std::string& scope);

  // Owner of the specs of synthetic layers; a deque keeps their addresses.
  std::deque<config::LayerSpec> synthetic_specs;
};

// True when laying out a tensor of Keras shape `shape` with torch axes
// `order` keeps its elements in Keras's memory order: only axes of size 1
// move. Such a change of layout is a free reshape, not a transpose.
bool SameElementOrder(const std::vector<int>& order, const Shape& shape);

// Builds the graph of a normalized model, inlining nested models. Fails on
// references to missing layers, cycles and layers that are never reachable,
// and when the model has more layers or calls than `limits` allow.
Expected<Graph> BuildGraph(const config::ModelSpec& model, const Limits& limits = {});

}  // namespace k2t::ir
