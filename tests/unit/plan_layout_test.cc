// Shape inference and the layout planner on small graphs, run from JSON
// configs through the same steps as the driver (no weights needed).
#include <gtest/gtest.h>

#include <memory>

#include "config/normalize.h"
#include "passes/conversion.h"
#include "test_util.h"

namespace k2t::passes {
namespace {

struct Pipeline {
  ModelFile file;
  Conversion c;
};

std::unique_ptr<Pipeline> Plan(const std::string& json, IoLayout io = IoLayout::kTorch) {
  auto p = std::make_unique<Pipeline>();
  p->file = k2t::testing::JsonModelFile(json, "3.15.1");
  p->c.file = &p->file;
  p->c.options.io_layout = io;
  auto normalized = config::Normalize(p->file);
  EXPECT_TRUE(normalized.ok()) << normalized.error().Describe();
  p->c.model = std::move(*normalized);
  auto graph = ir::BuildGraph(p->c.model.model);
  EXPECT_TRUE(graph.ok()) << graph.error().Describe();
  p->c.graph = std::move(*graph);
  for (Status (*pass)(Conversion&) : {ResolveConverters, InferShapes, PlanLayout}) {
    const Status status = pass(p->c);
    EXPECT_TRUE(status.ok()) << status.error().Describe();
    if (!status.ok()) break;
  }
  return p;
}

const ir::Node& NodeOf(const Conversion& c, const std::string& layer_name, int call = 0) {
  for (const ir::Layer& layer : c.graph.layers) {
    if (layer.QualifiedName() == layer_name) {
      const int node = layer.nodes.at(static_cast<std::size_t>(call));
      return c.graph.nodes[static_cast<std::size_t>(node)];
    }
  }
  ADD_FAILURE() << "no layer " << layer_name;
  static const ir::Node none;
  return none;
}

const ir::Value& OutputOf(const Conversion& c, const std::string& layer_name) {
  return c.graph.value(NodeOf(c, layer_name).outputs.at(0));
}

std::string Sequential(const std::string& input_shape, const std::vector<std::string>& layers) {
  std::string text = R"({"module": "keras", "class_name": "Sequential", "config": {
      "name": "sequential", "layers": [{"module": "keras.layers", "class_name": "InputLayer",
      "config": {"batch_shape": )" +
                     input_shape + R"(, "dtype": "float32", "name": "input_layer"}})";
  for (const std::string& layer : layers) text += ", " + layer;
  return text + "]}}";
}

std::string LayerEntry(const std::string& cls, const std::string& config) {
  return R"({"module": "keras.layers", "class_name": ")" + cls + R"(", "config": )" + config +
         "}";
}

const std::string kConv = LayerEntry(
    "Conv2D", R"({"name": "conv", "filters": 4, "kernel_size": [3, 3], "strides": [1, 1],
                 "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1],
                 "groups": 1, "activation": "relu", "use_bias": true})");
const std::string kPool = LayerEntry(
    "MaxPooling2D", R"({"name": "pool", "pool_size": [2, 2], "strides": [2, 2],
                       "padding": "valid", "data_format": "channels_last"})");
const std::string kFlatten = LayerEntry("Flatten", R"({"name": "flat"})");
const std::string kDense =
    LayerEntry("Dense", R"({"name": "dense", "units": 10, "activation": "softmax"})");

TEST(InferShapesTest, CnnShapes) {
  auto p = Plan(Sequential("[null, 28, 28, 1]", {kConv, kPool, kFlatten, kDense}));
  const Conversion& c = p->c;
  EXPECT_EQ(c.graph.value(c.graph.inputs[0]).shape, (Shape{-1, 28, 28, 1}));
  EXPECT_EQ(c.graph.value(c.graph.inputs[0]).dtype, DType::kF32);
  EXPECT_EQ(OutputOf(c, "conv").shape, (Shape{-1, 26, 26, 4}));
  EXPECT_EQ(OutputOf(c, "pool").shape, (Shape{-1, 13, 13, 4}));
  EXPECT_EQ(OutputOf(c, "flat").shape, (Shape{-1, 676}));
  EXPECT_EQ(OutputOf(c, "dense").shape, (Shape{-1, 10}));
}

TEST(InferShapesTest, FixedBatchSizeBecomesUnknown) {
  auto p = Plan(Sequential("[8, 5]", {LayerEntry("Dense", R"({"name": "d", "units": 3})")}));
  EXPECT_EQ(p->c.graph.value(p->c.graph.inputs[0]).shape, (Shape{-1, 5}));
  EXPECT_EQ(OutputOf(p->c, "d").shape, (Shape{-1, 3}));
}

TEST(InferShapesTest, InvalidInputShape) {
  auto p = std::make_unique<Pipeline>();
  p->file = k2t::testing::JsonModelFile(
      Sequential("[null, -3]", {LayerEntry("Dense", R"({"name": "d", "units": 3})")}), "3.15.1");
  p->c.file = &p->file;
  p->c.model = std::move(*config::Normalize(p->file));
  p->c.graph = std::move(*ir::BuildGraph(p->c.model.model));
  ASSERT_TRUE(ResolveConverters(p->c).ok());
  const Status status = InferShapes(p->c);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().Describe(),
            "layer 'input_layer' (InputLayer): input shape [null,-3] has an invalid size");
}

// The CNN needs no permute at all: the input takes NCHW, Flatten flattens
// channels first and the Dense absorbs the feature order into its rows.
TEST(PlanLayoutTest, CnnHasNoLayoutChanges) {
  auto p = Plan(Sequential("[null, 28, 28, 1]", {kConv, kPool, kFlatten, kDense}));
  const Conversion& c = p->c;
  EXPECT_TRUE(c.layout_changes.empty());
  EXPECT_TRUE(c.keras_order_nodes.empty());
  EXPECT_EQ(c.graph.value(c.graph.inputs[0]).layout.perm, (std::vector<int>{0, 3, 1, 2}));
  EXPECT_EQ(OutputOf(c, "conv").layout.perm, (std::vector<int>{0, 3, 1, 2}));

  const ir::Layout& flat = OutputOf(c, "flat").layout;
  ASSERT_TRUE(flat.features.has_value());
  EXPECT_EQ(flat.features->dims, (Shape{13, 13, 4}));        // Keras (h, w, c)
  EXPECT_EQ(flat.features->order, (std::vector<int>{2, 0, 1}));  // torch (c, h, w)
  EXPECT_EQ(flat.features->origin_node, NodeOf(c, "flat").id);
  EXPECT_TRUE(OutputOf(c, "dense").layout.IsIdentity());
}

// A Reshape needs Keras's element order, which no weight can absorb: the
// Flatten is re-planned to permute to channels last before flattening.
TEST(PlanLayoutTest, FlattenBeforeReshapeUsesKerasOrder) {
  auto p = Plan(Sequential(
      "[null, 28, 28, 1]",
      {kConv, kPool, kFlatten,
       LayerEntry("Reshape", R"({"name": "reshape", "target_shape": [13, 52]})")}));
  const Conversion& c = p->c;
  const ir::Node& flat = NodeOf(c, "flat");
  EXPECT_EQ(c.keras_order_nodes, (std::set<int>{flat.id}));
  ASSERT_EQ(c.layout_changes.size(), 1u);
  const LayoutChange& change = c.layout_changes[0];
  EXPECT_EQ(change.node, flat.id);
  EXPECT_EQ(change.input, 0);
  EXPECT_EQ(change.from.perm, (std::vector<int>{0, 3, 1, 2}));
  EXPECT_TRUE(change.to.IsIdentity());
  EXPECT_FALSE(change.at_boundary);
  EXPECT_FALSE(OutputOf(c, "flat").layout.features.has_value());
  EXPECT_EQ(OutputOf(c, "reshape").shape, (Shape{-1, 13, 52}));
}

// With --io-layout keras the model takes and returns NHWC: the permutes
// move to the boundary, where they are counted as such.
TEST(PlanLayoutTest, KerasIoLayoutGivesBoundaryPermutes) {
  auto p = Plan(Sequential("[null, 8, 8, 3]", {kConv}), IoLayout::kKeras);
  const Conversion& c = p->c;
  EXPECT_TRUE(c.graph.value(c.graph.inputs[0]).layout.IsIdentity());
  ASSERT_EQ(c.layout_changes.size(), 2u);
  const LayoutChange& in = c.layout_changes[0];
  EXPECT_EQ(in.node, NodeOf(c, "conv").id);
  EXPECT_TRUE(in.from.IsIdentity());
  EXPECT_EQ(in.to.perm, (std::vector<int>{0, 3, 1, 2}));
  EXPECT_TRUE(in.at_boundary);
  const LayoutChange& out = c.layout_changes[1];
  EXPECT_EQ(out.node, -1);
  EXPECT_EQ(out.input, 0);
  EXPECT_EQ(out.from.perm, (std::vector<int>{0, 3, 1, 2}));
  EXPECT_TRUE(out.to.IsIdentity());
  EXPECT_TRUE(out.at_boundary);
}

TEST(PlanLayoutTest, TorchIoLayoutHasNoPermutesForTheSameModel) {
  auto p = Plan(Sequential("[null, 8, 8, 3]", {kConv}), IoLayout::kTorch);
  EXPECT_TRUE(p->c.layout_changes.empty());
  EXPECT_EQ(p->c.graph.value(p->c.graph.inputs[0]).layout.perm, (std::vector<int>{0, 3, 1, 2}));
  EXPECT_EQ(OutputOf(p->c, "conv").layout.perm, (std::vector<int>{0, 3, 1, 2}));
}

// An input that a Conv2D and a Reshape both read cannot take the Conv2D's
// order for free: one interior permute remains, before the convolution.
TEST(PlanLayoutTest, InputSharedByConvAndReshapeKeepsOnePermute) {
  const std::string json = R"({"class_name": "Functional", "config": {"name": "two_heads",
    "layers": [
      {"class_name": "InputLayer", "name": "image", "inbound_nodes": [],
       "config": {"batch_shape": [null, 8, 8, 3], "dtype": "float32", "name": "image"}},
      {"class_name": "Conv2D", "name": "conv", "config": {"name": "conv", "filters": 2,
        "kernel_size": [3, 3], "padding": "valid", "data_format": "channels_last"},
       "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
         "config": {"keras_history": ["image", 0, 0]}}], "kwargs": {}}]},
      {"class_name": "Reshape", "name": "reshape", "config": {"name": "reshape",
        "target_shape": [192]},
       "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
         "config": {"keras_history": ["image", 0, 0]}}], "kwargs": {}}]}],
    "input_layers": [["image", 0, 0]],
    "output_layers": [["conv", 0, 0], ["reshape", 0, 0]]}})";
  auto p = Plan(json);
  const Conversion& c = p->c;
  EXPECT_TRUE(c.graph.value(c.graph.inputs[0]).layout.IsIdentity());
  ASSERT_EQ(c.layout_changes.size(), 1u);
  const LayoutChange& change = c.layout_changes[0];
  EXPECT_EQ(change.node, NodeOf(c, "conv").id);
  EXPECT_TRUE(change.from.IsIdentity());
  EXPECT_EQ(change.to.perm, (std::vector<int>{0, 3, 1, 2}));
  EXPECT_FALSE(change.at_boundary);
  EXPECT_EQ(OutputOf(c, "reshape").shape, (Shape{-1, 192}));
}

}  // namespace
}  // namespace k2t::passes
