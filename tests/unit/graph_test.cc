#include "ir/graph.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "config/normalize.h"
#include "test_util.h"

namespace k2t::ir {
namespace {

using k2t::testing::JsonModelFile;

struct Built {
  config::NormalizedModel model;  // the graph points into it
  Expected<Graph> graph = MakeError("not built");
};

// Normalized and built; the model must outlive the graph.
std::unique_ptr<Built> Build(const std::string& json, const std::string& version = "2.15.0") {
  auto built = std::make_unique<Built>();
  auto normalized = config::Normalize(JsonModelFile(json, version));
  EXPECT_TRUE(normalized.ok()) << normalized.error().Describe();
  if (!normalized.ok()) return built;
  built->model = std::move(*normalized);
  built->graph = BuildGraph(built->model.model);
  return built;
}

const Layer* FindLayer(const Graph& graph, const std::string& qualified) {
  for (const Layer& layer : graph.layers) {
    if (layer.QualifiedName() == qualified) return &layer;
  }
  return nullptr;
}

std::string InputEntry(const std::string& name) {
  return R"({"class_name": "InputLayer", "name": ")" + name +
         R"(", "inbound_nodes": [], "config": {"batch_input_shape": [null, 4], "name": ")" +
         name + R"("}})";
}

std::string DenseEntry(const std::string& name, const std::string& inbound) {
  return R"({"class_name": "Dense", "name": ")" + name + R"(", "config": {"name": ")" + name +
         R"(", "units": 4}, "inbound_nodes": )" + inbound + "}";
}

std::string Functional(const std::vector<std::string>& layers, const std::string& inputs,
                       const std::string& outputs) {
  std::string text = R"({"class_name": "Functional", "config": {"name": "m", "layers": [)";
  for (std::size_t i = 0; i < layers.size(); ++i) text += (i ? ", " : "") + layers[i];
  return text + R"(], "input_layers": )" + inputs + R"(, "output_layers": )" + outputs + "}}";
}

// Outer model: a and b through a shared Dense, each through the nested model
// "inner" (one Dense), added.
std::string SharedNestedModel() {
  const std::string inner =
      R"({"class_name": "Functional", "name": "inner", "config": {"name": "inner", "layers": [)" +
      InputEntry("inner_in") + ", " + DenseEntry("inner_dense", R"([[["inner_in", 0, 0, {}]]])") +
      R"(], "input_layers": [["inner_in", 0, 0]], "output_layers": [["inner_dense", 0, 0]]},
         "inbound_nodes": [[["shared", 0, 0, {}]], [["shared", 1, 0, {}]]]})";
  return Functional({InputEntry("a"), InputEntry("b"),
                     DenseEntry("shared", R"([[["a", 0, 0, {}]], [["b", 0, 0, {}]]])"), inner,
                     R"({"class_name": "Add", "name": "add", "config": {"name": "add"},
                         "inbound_nodes": [[["inner", 1, 0, {}], ["inner", 2, 0, {}]]]})"},
                    R"([["a", 0, 0], ["b", 0, 0]])", R"([["add", 0, 0], ["inner", 2, 0]])");
}

TEST(GraphTest, NestedModelIsInlinedWithSharedWeights) {
  auto built = Build(SharedNestedModel());
  ASSERT_TRUE(built->graph.ok()) << built->graph.error().Describe();
  const Graph& graph = *built->graph;
  EXPECT_EQ(graph.model_name, "m");
  EXPECT_EQ(graph.model_class, "Functional");
  ASSERT_EQ(graph.inputs.size(), 2u);
  EXPECT_EQ(graph.input_names, (std::vector<std::string>{"a", "b"}));

  // The nested model's layers become layers of this graph, named by scope.
  const Layer* inner_dense = FindLayer(graph, "inner/inner_dense");
  ASSERT_NE(inner_dense, nullptr);
  EXPECT_EQ(inner_dense->name, "inner_dense");
  EXPECT_EQ(inner_dense->scope, "inner/");
  EXPECT_EQ(inner_dense->legacy_group, "inner");
  EXPECT_EQ(inner_dense->legacy_sublayer, "inner_dense");
  EXPECT_EQ(inner_dense->v3_path, "layers/functional/layers/dense");
  EXPECT_EQ(FindLayer(graph, "inner"), nullptr);  // the container itself is no layer

  // One Layer, two Nodes: called once per call of the nested model.
  ASSERT_EQ(inner_dense->nodes.size(), 2u);
  const Node& first = graph.nodes[static_cast<std::size_t>(inner_dense->nodes[0])];
  const Node& second = graph.nodes[static_cast<std::size_t>(inner_dense->nodes[1])];
  const Layer* shared = FindLayer(graph, "shared");
  ASSERT_NE(shared, nullptr);
  ASSERT_EQ(shared->nodes.size(), 2u);
  EXPECT_EQ(shared->legacy_group, "shared");
  EXPECT_EQ(shared->legacy_sublayer, "");
  EXPECT_EQ(shared->v3_path, "layers/dense");
  EXPECT_EQ(first.inputs,
            graph.nodes[static_cast<std::size_t>(shared->nodes[0])].outputs);
  EXPECT_EQ(second.inputs,
            graph.nodes[static_cast<std::size_t>(shared->nodes[1])].outputs);

  // The Add takes both calls' outputs; the second model output is the second call's.
  const Layer* add = FindLayer(graph, "add");
  ASSERT_NE(add, nullptr);
  const Node& add_node = graph.nodes[static_cast<std::size_t>(add->nodes[0])];
  EXPECT_EQ(add_node.inputs, (std::vector<int>{first.outputs[0], second.outputs[0]}));
  EXPECT_EQ(graph.outputs, (std::vector<int>{add_node.outputs[0], second.outputs[0]}));
  EXPECT_EQ(graph.output_names, (std::vector<std::string>{"add", "inner"}));

  // Every node's inputs are computed before it; consumers are recorded.
  std::set<int> ready(graph.inputs.begin(), graph.inputs.end());
  for (const Node& node : graph.nodes) {
    for (int input : node.inputs) EXPECT_TRUE(ready.count(input)) << node.id;
    ready.insert(node.outputs.begin(), node.outputs.end());
  }
  EXPECT_EQ(graph.value(second.outputs[0]).consumers, (std::vector<int>{add_node.id}));
  EXPECT_EQ(graph.value(second.outputs[0]).name, "inner/inner_dense");
}

TEST(GraphTest, SequentialIsAChain) {
  auto built = Build(R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "Dense", "config": {"name": "d1", "units": 3, "batch_input_shape": [null, 2]}},
      {"class_name": "Dense", "config": {"name": "d2", "units": 1}}]}})");
  ASSERT_TRUE(built->graph.ok());
  const Graph& graph = *built->graph;
  ASSERT_EQ(graph.nodes.size(), 2u);
  EXPECT_EQ(graph.nodes[0].inputs, graph.inputs);
  EXPECT_EQ(graph.nodes[1].inputs, graph.nodes[0].outputs);
  EXPECT_EQ(graph.outputs, graph.nodes[1].outputs);
  EXPECT_EQ(graph.input_names, (std::vector<std::string>{"d1_input"}));
  // A Sequential's weights: Keras 3 leaves its input layer out of the count.
  EXPECT_EQ(FindLayer(graph, "d2")->v3_path, "layers/dense_1");
}

TEST(GraphTest, TwoLayerCycle) {
  auto built = Build(Functional(
      {InputEntry("in"), DenseEntry("d1", R"([[["d2", 0, 0, {}]]])"),
       DenseEntry("d2", R"([[["d1", 0, 0, {}]]])")},
      R"([["in", 0, 0]])", R"([["d2", 0, 0]])"));
  ASSERT_FALSE(built->graph.ok());
  EXPECT_EQ(built->graph.error().Describe(),
            "layer 'd1' (Dense): the graph has a cycle: d1 -> d2 -> d1");
}

TEST(GraphTest, SelfLoop) {
  auto built = Build(Functional({InputEntry("in"), DenseEntry("loop", R"([[["loop", 0, 0, {}]]])")},
                                R"([["in", 0, 0]])", R"([["loop", 0, 0]])"));
  ASSERT_FALSE(built->graph.ok());
  EXPECT_EQ(built->graph.error().Describe(),
            "layer 'loop' (Dense): the graph has a cycle: loop -> loop");
}

TEST(GraphTest, CycleBehindALayerNamesOnlyTheCycle) {
  auto built = Build(Functional(
      {InputEntry("in"), DenseEntry("head", R"([[["c1", 0, 0, {}]]])"),
       DenseEntry("c1", R"([[["c2", 0, 0, {}]]])"), DenseEntry("c2", R"([[["c1", 0, 0, {}]]])")},
      R"([["in", 0, 0]])", R"([["head", 0, 0]])"));
  ASSERT_FALSE(built->graph.ok());
  EXPECT_EQ(built->graph.error().Describe(),
            "layer 'c1' (Dense): the graph has a cycle: c1 -> c2 -> c1");
}

std::string OneOutputInner() {
  return R"({"class_name": "Functional", "name": "inner",)"
         R"( "config": {"name": "inner", "layers": [)" +
         InputEntry("inner_in") + ", " +
         DenseEntry("inner_dense", R"([[["inner_in", 0, 0, {}]]])") +
         R"(], "input_layers": [["inner_in", 0, 0]], "output_layers": [["inner_dense", 0, 0]]},
            "inbound_nodes": [[["in", 0, 0, {}]]]})";
}

TEST(GraphTest, DanglingModelOutput) {
  // The nested model has one output; tensor 1 of its call does not exist.
  auto built = Build(Functional({InputEntry("in"), OneOutputInner()}, R"([["in", 0, 0]])",
                                R"([["inner", 1, 1]])"));
  ASSERT_FALSE(built->graph.ok());
  EXPECT_EQ(built->graph.error().Describe(),
            "model output 'inner' (call 0, tensor 1) is never computed");
}

TEST(GraphTest, DanglingInput) {
  auto built = Build(Functional({InputEntry("in"), OneOutputInner(),
                                 DenseEntry("after", R"([[["inner", 1, 1, {}]]])")},
                                R"([["in", 0, 0]])", R"([["after", 0, 0]])"));
  ASSERT_FALSE(built->graph.ok());
  EXPECT_EQ(built->graph.error().Describe(),
            "layer 'after' (Dense): its input from layer 'inner' (call 0, tensor 1) is never "
            "computed");
}

TEST(GraphTest, UnusedBranchIsKept) {
  // A layer nobody consumes and that is no output is still converted (Keras
  // runs it too); its value simply has no consumers.
  auto built = Build(Functional({InputEntry("in"), DenseEntry("used", R"([[["in", 0, 0, {}]]])"),
                                 DenseEntry("unused", R"([[["in", 0, 0, {}]]])")},
                                R"([["in", 0, 0]])", R"([["used", 0, 0]])"));
  ASSERT_TRUE(built->graph.ok()) << built->graph.error().Describe();
  const Layer* unused = FindLayer(*built->graph, "unused");
  ASSERT_NE(unused, nullptr);
  ASSERT_EQ(unused->nodes.size(), 1u);
  const Node& node = built->graph->nodes[static_cast<std::size_t>(unused->nodes[0])];
  EXPECT_TRUE(built->graph->value(node.outputs[0]).consumers.empty());
  EXPECT_EQ(built->graph->outputs.size(), 1u);
}

TEST(GraphTest, InputMustBeAnInputLayer) {
  auto built = Build(Functional({InputEntry("in"), DenseEntry("d", R"([[["in", 0, 0, {}]]])")},
                                R"([["d", 0, 0]])", R"([["d", 0, 0]])"));
  ASSERT_FALSE(built->graph.ok());
  EXPECT_EQ(built->graph.error().Describe(), "model input 'd' is not an InputLayer");
}

TEST(GraphTest, NestedModelCalledWithTheWrongNumberOfInputs) {
  std::string inner = OneOutputInner();
  inner.replace(inner.find(R"([[["in", 0, 0, {}]]])"), 20,
                R"([[["in", 0, 0, {}], ["in", 0, 0, {}]]])");
  auto built = Build(Functional({InputEntry("in"), inner}, R"([["in", 0, 0]])",
                                R"([["inner", 1, 0]])"));
  ASSERT_FALSE(built->graph.ok());
  EXPECT_EQ(built->graph.error().Describe(),
            "layer 'inner' (Functional): nested model 'inner' is called with 2 input(s) but has 1");
}

TEST(LayoutTest, ChannelsFirstAndDescribe) {
  EXPECT_EQ(Layout::ChannelsFirst(4).perm, (std::vector<int>{0, 3, 1, 2}));
  EXPECT_EQ(Layout::ChannelsFirst(3).perm, (std::vector<int>{0, 2, 1}));
  EXPECT_TRUE(Layout::ChannelsFirst(2).IsIdentity());
  EXPECT_EQ(Layout::ChannelsFirst(4).Describe(), "permuted [0, 3, 1, 2]");
  EXPECT_EQ(Layout::Identity().Describe(), "keras");
  Layout explicit_identity;
  explicit_identity.perm = {0, 1, 2};
  EXPECT_TRUE(explicit_identity.IsIdentity());
  EXPECT_TRUE(explicit_identity == Layout::Identity());
  Layout flattened;
  flattened.features = Layout::FeatureOrder{{2, 2, 3}, {2, 0, 1}, 5};
  EXPECT_FALSE(flattened.IsIdentity());
  EXPECT_FALSE(flattened == Layout::Identity());
  EXPECT_EQ(flattened.Describe(), "flattened channels first");
}

}  // namespace
}  // namespace k2t::ir
