#include "config/normalize.h"

#include <gtest/gtest.h>

#include <random>

#include "test_util.h"

namespace k2t::config {
namespace {

using k2t::testing::JsonModelFile;

Expected<NormalizedModel> NormalizeText(const std::string& json, const std::string& version = "") {
  return Normalize(JsonModelFile(json, version));
}

std::string ErrorOf(const Expected<NormalizedModel>& result) {
  return result.ok() ? "(no error)" : result.error().Describe();
}

std::vector<std::string> LayerNames(const ModelSpec& model) {
  std::vector<std::string> names;
  for (const LayerSpec& layer : model.layers) names.push_back(layer.name);
  return names;
}

const LayerSpec& Layer(const ModelSpec& model, const std::string& name) {
  const LayerSpec* layer = model.Find(name);
  EXPECT_NE(layer, nullptr) << name;
  static const LayerSpec missing;
  return layer ? *layer : missing;
}

TensorRef Ref(const std::string& layer, int node = 0, int tensor = 0) {
  return {layer, node, tensor};
}

// Keras 1: the Sequential config is the list of layers; the first layer holds
// batch_input_shape and input_dtype; classes have their Keras 1 names.
TEST(NormalizeTest, KerasOneListSequential) {
  auto result = NormalizeText(R"({"class_name": "Sequential", "config": [
      {"class_name": "Convolution2D", "config": {"name": "conv", "nb_filter": 4, "nb_row": 3,
       "nb_col": 3, "batch_input_shape": [null, 8, 8, 1], "input_dtype": "float32"}},
      {"class_name": "Flatten", "config": {"name": "flat"}},
      {"class_name": "Dense", "config": {"name": "out", "output_dim": 2}}]})",
                              "1.2.2");
  ASSERT_TRUE(result.ok()) << ErrorOf(result);
  EXPECT_EQ(result->keras.major, 1);
  EXPECT_FALSE(result->keras.tf_keras);
  const ModelSpec& model = result->model;
  EXPECT_EQ(model.class_name, "Sequential");
  EXPECT_EQ(model.name, "sequential");
  EXPECT_EQ(LayerNames(model), (std::vector<std::string>{"conv_input", "conv", "flat", "out"}));
  const LayerSpec& input = model.layers[0];
  EXPECT_EQ(input.class_name, "InputLayer");
  EXPECT_EQ(input.config["batch_shape"], Json::parse("[null, 8, 8, 1]"));
  EXPECT_EQ(input.config["dtype"], "float32");
  EXPECT_EQ(Layer(model, "conv").class_name, "Conv2D");
  EXPECT_EQ(Layer(model, "flat").calls.size(), 1u);
  EXPECT_EQ(Layer(model, "flat").calls[0].inputs, (std::vector<TensorRef>{Ref("conv")}));
  EXPECT_EQ(model.inputs, (std::vector<TensorRef>{Ref("conv_input")}));
  EXPECT_EQ(model.outputs, (std::vector<TensorRef>{Ref("out")}));
  EXPECT_EQ(model.output_names, (std::vector<std::string>{"out"}));
  EXPECT_TRUE(input.calls.empty());
}

// Keras 2.2.4: a dict with name and layers, batch_input_shape on the first layer.
TEST(NormalizeTest, KerasTwoDictSequential) {
  auto result = NormalizeText(R"({"class_name": "Sequential", "keras_version": "2.2.4",
      "backend": "tensorflow", "config": {"name": "sequential_1", "layers": [
      {"class_name": "Dense", "config": {"name": "dense_1", "units": 8,
       "batch_input_shape": [null, 4], "dtype": "float64"}},
      {"class_name": "Dense", "config": {"name": "dense_1_input", "units": 2}}]}})",
                              "2.2.4");
  ASSERT_TRUE(result.ok()) << ErrorOf(result);
  EXPECT_EQ(result->keras.major, 2);
  EXPECT_FALSE(result->keras.tf_keras);
  const ModelSpec& model = result->model;
  EXPECT_EQ(model.name, "sequential_1");
  // The made-up input name does not take a name a layer already has.
  EXPECT_EQ(LayerNames(model),
            (std::vector<std::string>{"dense_1_input_1", "dense_1", "dense_1_input"}));
  EXPECT_EQ(model.layers[0].config["dtype"], "float64");
  EXPECT_EQ(Layer(model, "dense_1_input").calls[0].inputs,
            (std::vector<TensorRef>{Ref("dense_1")}));
}

// tf.keras 2.x: an explicit InputLayer first, batch_input_shape on it.
TEST(NormalizeTest, TfKerasSequentialWithInputLayer) {
  auto result = NormalizeText(R"({"class_name": "Sequential", "config": {"name": "seq",
      "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 28, 28, 1],
       "dtype": "float32", "sparse": false, "ragged": false, "name": "input_1"}},
      {"class_name": "MaxPool2D", "config": {"name": "pool", "dtype": "float32"}},
      {"class_name": "BatchNormalization", "config": {"name": "bn", "axis": [3]}}]}})",
                              "2.15.0");
  ASSERT_TRUE(result.ok()) << ErrorOf(result);
  EXPECT_EQ(result->keras.major, 2);
  EXPECT_TRUE(result->keras.tf_keras);
  const ModelSpec& model = result->model;
  EXPECT_EQ(LayerNames(model), (std::vector<std::string>{"input_1", "pool", "bn"}));
  EXPECT_EQ(Layer(model, "pool").class_name, "MaxPooling2D");
  EXPECT_EQ(Layer(model, "bn").config["axis"], 3);  // one-element list unwrapped
  EXPECT_EQ(Layer(model, "pool").calls[0].inputs, (std::vector<TensorRef>{Ref("input_1")}));
  EXPECT_EQ(model.inputs, (std::vector<TensorRef>{Ref("input_1")}));
}

TEST(NormalizeTest, TfKerasSequentialWithBuildInputShapeOnly) {
  auto result = NormalizeText(R"({"class_name": "Sequential", "config": {"name": "seq",
      "layers": [{"class_name": "Dense", "config": {"name": "d", "units": 1}}],
      "build_input_shape": [null, 5]}})",
                              "2.15.0");
  ASSERT_TRUE(result.ok()) << ErrorOf(result);
  EXPECT_EQ(LayerNames(result->model), (std::vector<std::string>{"d_input", "d"}));
  EXPECT_EQ(result->model.layers[0].config["batch_shape"], Json::parse("[null, 5]"));
}

// Keras 3: module/registered_name envelopes, DTypePolicy objects, batch_shape.
TEST(NormalizeTest, KerasThreeSequential) {
  auto result = NormalizeText(R"({"module": "keras", "class_name": "Sequential",
      "config": {"name": "sequential", "trainable": true,
        "dtype": {"module": "keras", "class_name": "DTypePolicy",
                  "config": {"name": "float32"}, "registered_name": null},
        "layers": [
          {"module": "keras.layers", "class_name": "InputLayer",
           "config": {"batch_shape": [null, 4], "dtype": "float32", "sparse": false,
                      "name": "input_layer"}, "registered_name": null},
          {"module": "keras.layers", "class_name": "Dense",
           "config": {"name": "dense", "units": 2, "activation": "relu",
             "dtype": {"module": "keras", "class_name": "DTypePolicy",
                       "config": {"name": "mixed_float16"}, "registered_name": null}},
           "registered_name": null, "build_config": {"input_shape": [null, 4]}}],
        "build_input_shape": [null, 4]},
      "registered_name": null, "build_config": {"input_shape": [null, 4]}})");
  ASSERT_TRUE(result.ok()) << ErrorOf(result);
  EXPECT_EQ(result->keras.major, 3);  // recognised without a version
  const ModelSpec& model = result->model;
  EXPECT_EQ(LayerNames(model), (std::vector<std::string>{"input_layer", "dense"}));
  const LayerSpec& dense = Layer(model, "dense");
  EXPECT_EQ(dense.module, "keras.layers");
  EXPECT_EQ(dense.config["dtype"], "mixed_float16");
  EXPECT_EQ(dense.build_config["input_shape"], Json::parse("[null, 4]"));
  EXPECT_EQ(dense.calls[0].inputs, (std::vector<TensorRef>{Ref("input_layer")}));
}

// tf.keras Functional (Keras 2 encoding): [layer, node, tensor, kwargs]
// entries, a layer shared by two calls, a nested Functional called twice whose
// calls are counted from 1 in references.
constexpr const char* kKerasTwoFunctional = R"({"class_name": "Functional", "config": {
  "name": "outer",
  "layers": [
    {"class_name": "InputLayer", "name": "a", "inbound_nodes": [],
     "config": {"batch_input_shape": [null, 4], "dtype": "float32", "name": "a"}},
    {"class_name": "InputLayer", "name": "b", "inbound_nodes": [],
     "config": {"batch_input_shape": [null, 4], "dtype": "float32", "name": "b"}},
    {"class_name": "Dense", "name": "shared", "config": {"name": "shared", "units": 4},
     "inbound_nodes": [[["a", 0, 0, {}]], [["b", 0, 0, {"training": false}]]]},
    {"module": "tf_keras.src.engine.functional", "class_name": "Functional", "name": "inner",
     "registered_name": "Functional",
     "config": {"name": "inner", "layers": [
       {"class_name": "InputLayer", "name": "inner_in", "inbound_nodes": [],
        "config": {"batch_input_shape": [null, 4], "dtype": "float32", "name": "inner_in"}},
       {"class_name": "Dense", "name": "inner_dense", "config": {"name": "inner_dense", "units": 3},
        "inbound_nodes": [[["inner_in", 0, 0, {}]]]}],
       "input_layers": [["inner_in", 0, 0]], "output_layers": [["inner_dense", 0, 0]]},
     "inbound_nodes": [[["shared", 0, 0, {}]], [["shared", 1, 0, {}]]]},
    {"class_name": "Add", "name": "add", "config": {"name": "add"},
     "inbound_nodes": [[["inner", 1, 0, {}], ["inner", 2, 0, {}]]]},
    {"class_name": "MultiHeadAttention", "name": "mha", "config": {"name": "mha"},
     "inbound_nodes": [[["add", 0, 0, {"value": ["shared", 1, 0], "use_causal_mask": true}]]]}
  ],
  "input_layers": [["a", 0, 0], ["b", 0, 0]],
  "output_layers": [["mha", 0, 0], ["inner", 2, 0]]}})";

TEST(NormalizeTest, KerasTwoFunctionalWithSharedAndNestedModels) {
  auto result = NormalizeText(kKerasTwoFunctional, "2.15.0");
  ASSERT_TRUE(result.ok()) << ErrorOf(result);
  const ModelSpec& model = result->model;
  EXPECT_EQ(model.class_name, "Functional");
  EXPECT_EQ(model.name, "outer");
  EXPECT_EQ(LayerNames(model),
            (std::vector<std::string>{"a", "b", "shared", "inner", "add", "mha"}));

  const LayerSpec& shared = Layer(model, "shared");
  ASSERT_EQ(shared.calls.size(), 2u);
  EXPECT_EQ(shared.calls[0].inputs, (std::vector<TensorRef>{Ref("a")}));
  EXPECT_EQ(shared.calls[1].inputs, (std::vector<TensorRef>{Ref("b")}));
  EXPECT_EQ(shared.calls[1].kwargs, Json::parse(R"({"training": false})"));
  EXPECT_FALSE(shared.calls[0].list_input);

  const LayerSpec& inner = Layer(model, "inner");
  ASSERT_NE(inner.model, nullptr);
  EXPECT_EQ(inner.class_name, "Functional");
  EXPECT_EQ(LayerNames(*inner.model), (std::vector<std::string>{"inner_in", "inner_dense"}));
  EXPECT_EQ(inner.model->outputs, (std::vector<TensorRef>{Ref("inner_dense")}));
  EXPECT_EQ(inner.calls[1].inputs, (std::vector<TensorRef>{Ref("shared", 1)}));

  // References to the nested model's calls 1 and 2 are its calls 0 and 1.
  const LayerSpec& add = Layer(model, "add");
  EXPECT_TRUE(add.calls[0].list_input);
  EXPECT_EQ(add.calls[0].inputs, (std::vector<TensorRef>{Ref("inner", 0), Ref("inner", 1)}));

  const LayerSpec& mha = Layer(model, "mha");
  EXPECT_EQ(mha.calls[0].inputs, (std::vector<TensorRef>{Ref("add")}));
  ASSERT_EQ(mha.calls[0].tensor_kwargs.size(), 1u);
  EXPECT_EQ(mha.calls[0].tensor_kwargs[0].first, "value");
  EXPECT_EQ(mha.calls[0].tensor_kwargs[0].second, Ref("shared", 1));
  EXPECT_EQ(mha.calls[0].kwargs, Json::parse(R"({"use_causal_mask": true})"));

  EXPECT_EQ(model.inputs, (std::vector<TensorRef>{Ref("a"), Ref("b")}));
  EXPECT_EQ(model.outputs, (std::vector<TensorRef>{Ref("mha"), Ref("inner", 1)}));
  EXPECT_EQ(model.output_names, (std::vector<std::string>{"mha", "inner"}));
}

// tf.keras nested Sequential that starts with an InputLayer: node 0 is its
// construction, so references count its calls from 1, like a Functional.
TEST(NormalizeTest, TfKerasNestedSequentialOffset) {
  auto result = NormalizeText(R"({"class_name": "Functional", "config": {"name": "outer",
    "layers": [
      {"class_name": "InputLayer", "name": "a", "inbound_nodes": [],
       "config": {"batch_input_shape": [null, 4], "name": "a"}},
      {"class_name": "Sequential", "name": "inner_seq", "config": {"name": "inner_seq",
         "layers": [
           {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4],
            "name": "input_1"}},
           {"class_name": "Dense", "config": {"name": "inner_dense", "units": 4}}]},
       "inbound_nodes": [[["a", 0, 0, {}]], [["proj", 0, 0, {}]]]},
      {"class_name": "Dense", "name": "proj", "config": {"name": "proj", "units": 4},
       "inbound_nodes": [[["inner_seq", 1, 0, {}]]]}],
    "input_layers": [["a", 0, 0]],
    "output_layers": [["inner_seq", 1, 0], ["inner_seq", 2, 0]]}})",
                              "2.15.0");
  ASSERT_TRUE(result.ok()) << ErrorOf(result);
  const ModelSpec& model = result->model;
  EXPECT_EQ(Layer(model, "proj").calls[0].inputs, (std::vector<TensorRef>{Ref("inner_seq", 0)}));
  EXPECT_EQ(model.outputs, (std::vector<TensorRef>{Ref("inner_seq", 0), Ref("inner_seq", 1)}));
  const LayerSpec& inner = Layer(model, "inner_seq");
  ASSERT_NE(inner.model, nullptr);
  EXPECT_EQ(inner.class_name, "Sequential");
  EXPECT_EQ(LayerNames(*inner.model), (std::vector<std::string>{"input_1", "inner_dense"}));
}

// Keras 3 Functional: calls as {"args", "kwargs"} with __keras_tensor__
// markers; a nested Functional's calls are counted from 1 only in
// output_layers, never in the references inside inbound nodes.
constexpr const char* kKerasThreeFunctional = R"({"module": "keras.src.models.functional",
  "class_name": "Functional", "registered_name": "Functional", "config": {
  "name": "outer", "trainable": true,
  "layers": [
    {"module": "keras.layers", "class_name": "InputLayer", "name": "a", "inbound_nodes": [],
     "config": {"batch_shape": [null, 4], "dtype": "float32", "name": "a"}},
    {"module": "keras.layers", "class_name": "InputLayer", "name": "b", "inbound_nodes": [],
     "config": {"batch_shape": [null, 4], "dtype": "float32", "name": "b"}},
    {"module": "keras.layers", "class_name": "Dense", "name": "shared",
     "config": {"name": "shared", "units": 4},
     "inbound_nodes": [
       {"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 4],
         "dtype": "float32", "keras_history": ["a", 0, 0]}}], "kwargs": {}},
       {"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 4],
         "dtype": "float32", "keras_history": ["b", 0, 0]}}], "kwargs": {"training": false}}]},
    {"module": "keras.src.models.functional", "class_name": "Functional", "name": "inner",
     "registered_name": "Functional",
     "config": {"name": "inner", "layers": [
       {"module": "keras.layers", "class_name": "InputLayer", "name": "inner_in",
        "inbound_nodes": [], "config": {"batch_shape": [null, 4], "name": "inner_in"}},
       {"module": "keras.layers", "class_name": "Dense", "name": "inner_dense",
        "config": {"name": "inner_dense", "units": 3},
        "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
          "shape": [null, 4], "dtype": "float32", "keras_history": ["inner_in", 0, 0]}}],
          "kwargs": {}}]}],
       "input_layers": ["inner_in", 0, 0], "output_layers": ["inner_dense", 0, 0]},
     "inbound_nodes": [
       {"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 4],
         "dtype": "float32", "keras_history": ["shared", 0, 0]}}], "kwargs": {"mask": null}},
       {"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 4],
         "dtype": "float32", "keras_history": ["shared", 1, 0]}}], "kwargs": {"mask": null}}]},
    {"module": "keras.layers", "class_name": "Add", "name": "add", "config": {"name": "add"},
     "inbound_nodes": [{"args": [[
       {"class_name": "__keras_tensor__", "config": {"shape": [null, 3], "dtype": "float32",
        "keras_history": ["inner", 0, 0]}},
       {"class_name": "__keras_tensor__", "config": {"shape": [null, 3], "dtype": "float32",
        "keras_history": ["inner", 1, 0]}}]], "kwargs": {}}]},
    {"module": "keras.layers", "class_name": "MultiHeadAttention", "name": "mha",
     "config": {"name": "mha"},
     "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
       "shape": [null, 3], "dtype": "float32", "keras_history": ["add", 0, 0]}}],
       "kwargs": {"value": {"class_name": "__keras_tensor__", "config": {"shape": [null, 4],
         "dtype": "float32", "keras_history": ["shared", 1, 0]}}, "use_causal_mask": true}}]}
  ],
  "input_layers": [["a", 0, 0], ["b", 0, 0]],
  "output_layers": [["mha", 0, 0], ["inner", 2, 0]]}})";

TEST(NormalizeTest, KerasThreeFunctionalWithNestedModel) {
  auto result = NormalizeText(kKerasThreeFunctional, "3.15.1");
  ASSERT_TRUE(result.ok()) << ErrorOf(result);
  EXPECT_EQ(result->keras.major, 3);
  const ModelSpec& model = result->model;
  EXPECT_EQ(LayerNames(model),
            (std::vector<std::string>{"a", "b", "shared", "inner", "add", "mha"}));

  const LayerSpec& shared = Layer(model, "shared");
  ASSERT_EQ(shared.calls.size(), 2u);
  EXPECT_EQ(shared.calls[1].inputs, (std::vector<TensorRef>{Ref("b")}));
  EXPECT_EQ(shared.calls[1].kwargs, Json::parse(R"({"training": false})"));

  const LayerSpec& inner = Layer(model, "inner");
  ASSERT_NE(inner.model, nullptr);
  EXPECT_EQ(inner.model->inputs, (std::vector<TensorRef>{Ref("inner_in")}));
  EXPECT_EQ(inner.calls[0].kwargs, Json::parse(R"({"mask": null})"));

  // Inside inbound nodes the nested model's calls are 0 and 1 as written ...
  const LayerSpec& add = Layer(model, "add");
  EXPECT_TRUE(add.calls[0].list_input);
  EXPECT_EQ(add.calls[0].inputs, (std::vector<TensorRef>{Ref("inner", 0), Ref("inner", 1)}));

  const LayerSpec& mha = Layer(model, "mha");
  EXPECT_FALSE(mha.calls[0].list_input);
  ASSERT_EQ(mha.calls[0].tensor_kwargs.size(), 1u);
  EXPECT_EQ(mha.calls[0].tensor_kwargs[0].second, Ref("shared", 1));
  EXPECT_EQ(mha.calls[0].kwargs, Json::parse(R"({"use_causal_mask": true})"));

  // ... while output_layers counts them from 1.
  EXPECT_EQ(model.outputs, (std::vector<TensorRef>{Ref("mha"), Ref("inner", 1)}));
  EXPECT_EQ(model.inputs, (std::vector<TensorRef>{Ref("a"), Ref("b")}));

  // Shapes Keras wrote beside the references are kept, keyed by resolved tensor.
  bool found = false;
  for (const auto& [ref, shape] : model.recorded_shapes) {
    if (ref == Ref("inner", 1)) {
      found = true;
      EXPECT_EQ(shape, (RecordedShape{-1, 3}));
    }
  }
  EXPECT_TRUE(found);
}

TEST(NormalizeTest, KerasThreeNestedSequentialHasNoOffset) {
  auto result = NormalizeText(R"({"class_name": "Functional", "config": {"name": "outer",
    "layers": [
      {"class_name": "InputLayer", "name": "a", "inbound_nodes": [],
       "config": {"batch_shape": [null, 4], "name": "a"}},
      {"class_name": "Sequential", "name": "inner_seq", "config": {"name": "inner_seq",
         "layers": [
           {"class_name": "InputLayer", "config": {"batch_shape": [null, 4],
            "name": "input_layer"}},
           {"class_name": "Dense", "config": {"name": "inner_dense", "units": 4}}]},
       "inbound_nodes": [
         {"args": [{"class_name": "__keras_tensor__", "config": {
           "keras_history": ["a", 0, 0]}}], "kwargs": {"mask": null}},
         {"args": [{"class_name": "__keras_tensor__", "config": {
           "keras_history": ["proj", 0, 0]}}], "kwargs": {"mask": null}}]},
      {"class_name": "Dense", "name": "proj", "config": {"name": "proj", "units": 4},
       "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
         "keras_history": ["inner_seq", 0, 0]}}], "kwargs": {}}]}],
    "input_layers": ["a", 0, 0],
    "output_layers": [["inner_seq", 0, 0], ["inner_seq", 1, 0]]}})",
                              "3.15.1");
  ASSERT_TRUE(result.ok()) << ErrorOf(result);
  EXPECT_EQ(result->model.outputs,
            (std::vector<TensorRef>{Ref("inner_seq", 0), Ref("inner_seq", 1)}));
  EXPECT_EQ(result->model.inputs, (std::vector<TensorRef>{Ref("a")}));
}

TEST(NormalizeTest, DetectKerasFromVersionAndDialect) {
  ModelFile file = JsonModelFile(R"({"class_name": "Sequential", "config": {}})");
  EXPECT_EQ(DetectKeras(file).major, 2);
  EXPECT_TRUE(DetectKeras(file).tf_keras);
  file.keras_version = "2.1.6";
  EXPECT_FALSE(DetectKeras(file).tf_keras);
  file.keras_version = "2.2.4-tf";
  EXPECT_TRUE(DetectKeras(file).tf_keras);
  file.keras_version = "3.4.0";
  EXPECT_EQ(DetectKeras(file).major, 3);
  EXPECT_EQ(DetectKeras(file).Describe(), "Keras 3.4.0");
  file.keras_version = "";
  EXPECT_EQ(DetectKeras(file).Describe(), "Keras 2 (version not recorded)");
}

TEST(NormalizeTest, CanonicalClassNames) {
  EXPECT_EQ(CanonicalClassName("Model"), "Functional");
  EXPECT_EQ(CanonicalClassName("Convolution2D"), "Conv2D");
  EXPECT_EQ(CanonicalClassName("GlobalAvgPool1D"), "GlobalAveragePooling1D");
  EXPECT_EQ(CanonicalClassName("Dense"), "Dense");
  EXPECT_TRUE(IsModelConfig("Sequential", Json::object()));
  EXPECT_TRUE(IsModelConfig("MyModel", Json::parse(
                                           R"({"layers": [], "input_layers": [],
                                               "output_layers": []})")));
  EXPECT_FALSE(IsModelConfig("Dense", Json::parse(R"({"units": 3})")));
}

// A Functional config with one deliberate fault, spliced into `layers` and
// the outputs.
std::string FunctionalWith(const std::string& dense_inbound,
                           const std::string& outputs = R"([["dense", 0, 0]])") {
  return R"({"class_name": "Functional", "config": {"name": "m", "layers": [
      {"class_name": "InputLayer", "name": "in", "inbound_nodes": [],
       "config": {"batch_input_shape": [null, 4], "name": "in"}},
      {"class_name": "Dense", "name": "dense", "config": {"name": "dense", "units": 2},
       "inbound_nodes": )" +
         dense_inbound + R"(}],
      "input_layers": [["in", 0, 0]], "output_layers": )" +
         outputs + "}}";
}

TEST(NormalizeErrorsTest, MissingLayerReference) {
  EXPECT_EQ(ErrorOf(NormalizeText(FunctionalWith(R"([[["nope", 0, 0, {}]]])"))),
            "layer 'dense' (Dense): an input of this layer refers to layer 'nope', which the "
            "model does not have");
  EXPECT_EQ(ErrorOf(NormalizeText(FunctionalWith(R"([[["in", 0, 0, {}]]])",
                                                 R"([["ghost", 0, 0]])"))),
            "the model's output_layers refers to layer 'ghost', which the model does not have");
}

TEST(NormalizeErrorsTest, CallIndexOutOfRange) {
  auto result = NormalizeText(R"({"class_name": "Functional", "config": {"name": "m", "layers": [
      {"class_name": "InputLayer", "name": "in", "inbound_nodes": [],
       "config": {"batch_input_shape": [null, 4], "name": "in"}},
      {"class_name": "Dense", "name": "d1", "config": {"name": "d1", "units": 4},
       "inbound_nodes": [[["in", 0, 0, {}]]]},
      {"class_name": "Dense", "name": "d2", "config": {"name": "d2", "units": 2},
       "inbound_nodes": [[["d1", 3, 0, {}]]]}],
      "input_layers": [["in", 0, 0]], "output_layers": [["d2", 0, 0]]}})");
  EXPECT_EQ(ErrorOf(result),
            "layer 'd2' (Dense): an input of this layer refers to call 3 of layer 'd1', which is "
            "called 1 time(s)");
  EXPECT_EQ(ErrorOf(NormalizeText(FunctionalWith(R"([[["in", 0, 0, {}]]])",
                                                 R"([["dense", 1, 0]])"))),
            "the model's output_layers refers to call 1 of layer 'dense', which is called 1 "
            "time(s)");
}

TEST(NormalizeErrorsTest, UnbuiltSequential) {
  auto result = NormalizeText(R"({"module": "keras", "class_name": "Sequential",
      "config": {"name": "sequential_7", "layers": [
        {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense",
         "units": 2}}]}, "build_config": {"input_shape": null}})");
  EXPECT_EQ(ErrorOf(result),
            "the Sequential model 'sequential_7' records no input shape: it was saved before it "
            "was built; build it (give it an Input or call it once) and save it again");
}

TEST(NormalizeErrorsTest, OtherMalformedConfigs) {
  EXPECT_EQ(ErrorOf(NormalizeText(R"({"class_name": "Dense", "config": {"units": 1}})")),
            "the top-level object is a 'Dense', not a Keras model");
  EXPECT_EQ(ErrorOf(NormalizeText(R"({"class_name": "Sequential", "config": {"layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 1], "name": "x"}},
      {"class_name": "Dense", "config": {"name": "x", "units": 1}}]}})")),
            "two layers are named 'x'");
  EXPECT_EQ(ErrorOf(NormalizeText(R"({"class_name": "Sequential", "config": {"layers": [
      {"config": {"name": "x"}}]}})")),
            "a layer entry has no class_name: {\"config\":{\"name\":\"x\"}}");
  EXPECT_EQ(ErrorOf(NormalizeText(R"({"class_name": "Sequential", "config": {"layers": [
      {"class_name": "Dense", "config": {"units": 1}}]}})")),
            "a 'Dense' layer has no name");
  EXPECT_EQ(ErrorOf(NormalizeText(R"({"class_name": "Sequential", "config": "layers"})")),
            "the Sequential config has no list of layers");
  EXPECT_EQ(ErrorOf(NormalizeText(R"({"class_name": "Functional", "config": {"layers": 3}})")),
            "the Functional config has no list of layers");
  EXPECT_EQ(ErrorOf(NormalizeText(FunctionalWith(R"([[["in", "0", 0, {}]]])"))),
            "layer 'dense' (Dense): malformed inbound node entry [\"in\",\"0\",0,{}]");
  EXPECT_EQ(ErrorOf(NormalizeText(FunctionalWith(R"([7])"))),
            "layer 'dense' (Dense): malformed inbound node 7");
  EXPECT_EQ(ErrorOf(NormalizeText(FunctionalWith(R"([[["in", 0, 0, {}]]])", "5"))),
            "the model config has no valid output_layers");
  // A nested model whose config is missing altogether.
  EXPECT_EQ(ErrorOf(NormalizeText(R"({"class_name": "Sequential", "config": {"layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 1], "name": "in"}},
      {"class_name": "Sequential", "name": "inner"}]}})")),
            "layer 'inner' (Sequential): the Sequential config has no list of layers");
}

// Hostile files: every value replaced by values of other types must give an
// error or a model, never an exception or a crash.
void Mutate(Json& node, std::mt19937& random, std::vector<Json*>& all) {
  all.push_back(&node);
  if (node.is_object()) {
    for (auto& [key, value] : node.items()) Mutate(value, random, all);
  } else if (node.is_array()) {
    for (auto& value : node) Mutate(value, random, all);
  }
}

TEST(NormalizeRobustnessTest, WrongTypesNeverThrow) {
  const Json replacements[] = {Json(), Json(7), Json(-1), Json("x"), Json::array(),
                               Json::object(), Json::parse(R"([null, "a", 1])"),
                               Json::parse(R"({"class_name": "__keras_tensor__", "config": 1})"),
                               Json(1e300), Json(true)};
  for (const char* base : {kKerasTwoFunctional, kKerasThreeFunctional}) {
    const Json original = Json::parse(base);
    std::vector<Json*> count_nodes;
    Json counted = original;
    std::mt19937 counter(1);
    Mutate(counted, counter, count_nodes);
    const std::size_t nodes = count_nodes.size();
    std::mt19937 random(42);
    for (std::size_t position = 0; position < nodes; ++position) {
      for (const Json& replacement : replacements) {
        Json mutated = original;
        std::vector<Json*> all;
        Mutate(mutated, random, all);
        *all[position] = replacement;
        ModelFile file;
        file.model = mutated;
        EXPECT_NO_THROW({ (void)Normalize(file); }) << mutated.dump();
      }
    }
  }
}

// Keras 1 argument names become the Keras 2 ones the converters read.
TEST(NormalizeKerasOneTest, LayerKeysRenamed) {
  auto result = NormalizeText(R"({"class_name": "Sequential", "config": [
      {"class_name": "Convolution2D", "config": {"name": "conv", "nb_filter": 4, "nb_row": 3,
       "nb_col": 2, "subsample": [2, 1], "border_mode": "same", "dim_ordering": "th",
       "bias": false, "init": "he_normal", "W_regularizer": null,
       "batch_input_shape": [null, 1, 8, 8], "input_dtype": "float32"}},
      {"class_name": "MaxPooling2D", "config": {"name": "pool", "pool_size": [2.0, 2.0],
       "strides": null, "border_mode": "valid", "dim_ordering": "tf"}},
      {"class_name": "Convolution1D", "config": {"name": "c1", "nb_filter": 3,
       "filter_length": 5, "subsample_length": 2, "border_mode": "valid"}},
      {"class_name": "MaxPooling1D", "config": {"name": "p1", "pool_length": 2, "stride": null,
       "border_mode": "valid"}},
      {"class_name": "LSTM", "config": {"name": "rnn", "output_dim": 5,
       "inner_activation": "hard_sigmoid", "consume_less": "gpu", "dropout_W": 0.1,
       "dropout_U": 0.2, "forget_bias_init": "one", "U_regularizer": null}},
      {"class_name": "Dropout", "config": {"name": "drop", "p": 0.5}},
      {"class_name": "Dense", "config": {"name": "out", "output_dim": 2.0, "bias": true}}]})",
                              "1.2.2");
  ASSERT_TRUE(result.ok()) << ErrorOf(result);
  const ModelSpec& model = result->model;
  const LayerSpec& conv = Layer(model, "conv");
  EXPECT_EQ(conv.class_name, "Conv2D");
  EXPECT_EQ(conv.config, Json::parse(R"({"name": "conv", "filters": 4, "kernel_size": [3, 2],
      "strides": [2, 1], "padding": "same", "data_format": "channels_first", "use_bias": false,
      "kernel_initializer": "he_normal", "kernel_regularizer": null,
      "batch_input_shape": [null, 1, 8, 8], "dtype": "float32"})"));
  EXPECT_EQ(Layer(model, "pool").config, Json::parse(R"({"name": "pool", "pool_size": [2, 2],
      "strides": null, "padding": "valid", "data_format": "channels_last"})"));
  EXPECT_EQ(Layer(model, "c1").config, Json::parse(R"({"name": "c1", "filters": 3,
      "kernel_size": [5], "strides": [2], "padding": "valid"})"));
  EXPECT_EQ(Layer(model, "p1").config, Json::parse(R"({"name": "p1", "pool_size": [2],
      "strides": null, "padding": "valid"})"));
  EXPECT_EQ(Layer(model, "rnn").config, Json::parse(R"({"name": "rnn", "units": 5,
      "recurrent_activation": "hard_sigmoid", "implementation": 2, "dropout": 0.1,
      "recurrent_dropout": 0.2, "unit_forget_bias": true, "recurrent_regularizer": null})"));
  EXPECT_EQ(Layer(model, "drop").config, Json::parse(R"({"name": "drop", "rate": 0.5})"));
  EXPECT_EQ(Layer(model, "out").config,
            Json::parse(R"({"name": "out", "units": 2, "use_bias": true})"));
  EXPECT_EQ(model.layers[0].config["dtype"], "float32");
}

// A Keras 1 first layer may give its input as input_dim (+ input_length).
TEST(NormalizeKerasOneTest, InputShapeFromInputDim) {
  auto result = NormalizeText(R"({"class_name": "Sequential", "config": [
      {"class_name": "GRU", "config": {"name": "gru", "output_dim": 3, "input_dim": 4,
       "input_length": 7}}]})",
                              "1.1.0");
  ASSERT_TRUE(result.ok()) << ErrorOf(result);
  EXPECT_EQ(result->model.layers[0].config["batch_shape"], Json::parse("[null, 7, 4]"));
}

// Merge by mode, in a Keras 1 functional model with 3-element inbound nodes.
TEST(NormalizeKerasOneTest, MergeModes) {
  const std::string text = R"({"class_name": "Model", "config": {"name": "m", "layers": [
      {"name": "a", "class_name": "InputLayer", "inbound_nodes": [],
       "config": {"name": "a", "batch_input_shape": [null, 3], "input_dtype": "float32"}},
      {"name": "b", "class_name": "InputLayer", "inbound_nodes": [],
       "config": {"name": "b", "batch_input_shape": [null, 3], "input_dtype": "float32"}},
      {"name": "m", "class_name": "Merge", "inbound_nodes": [[["a", 0, 0], ["b", 0, 0]]],
       "config": {"name": "m", "mode": "MODE", "mode_type": "raw", "concat_axis": 1,
                  "dot_axes": -1, "output_shape": null}}],
      "input_layers": [["a", 0, 0], ["b", 0, 0]], "output_layers": [["m", 0, 0]]}})";
  auto with_mode = [&](const std::string& mode) {
    std::string t = text;
    t.replace(t.find("MODE"), 4, mode);
    return NormalizeText(t, "1.2.2");
  };
  const std::vector<std::pair<std::string, std::string>> classes = {
      {"sum", "Add"}, {"mul", "Multiply"}, {"ave", "Average"}, {"max", "Maximum"},
      {"concat", "Concatenate"}, {"dot", "Dot"}};
  for (const auto& [mode, cls] : classes) {
    auto result = with_mode(mode);
    ASSERT_TRUE(result.ok()) << mode << ": " << ErrorOf(result);
    const LayerSpec& merge = Layer(result->model, "m");
    EXPECT_EQ(merge.class_name, cls) << mode;
    EXPECT_TRUE(merge.calls.at(0).list_input) << mode;
    if (mode == "concat") EXPECT_EQ(merge.config["axis"], 1);
    if (mode == "dot") EXPECT_EQ(merge.config["axes"], -1);
  }
  EXPECT_EQ(ErrorOf(with_mode("cos")),
            "layer 'm' (Merge): Merge mode 'cos' (cosine proximity with Keras 1's extra output "
            "axis and epsilon) is not supported yet");
}

TEST(NormalizeKerasOneTest, RefusedConfigs) {
  auto full = NormalizeText(R"({"class_name": "Sequential", "config": [
      {"class_name": "Convolution2D", "config": {"name": "conv", "nb_filter": 4, "nb_row": 3,
       "nb_col": 3, "border_mode": "full", "batch_input_shape": [null, 8, 8, 1]}}]})",
                            "1.2.2");
  EXPECT_EQ(ErrorOf(full),
            "layer 'conv' (Convolution2D): border_mode 'full' (Theano's full convolution) has no "
            "Keras 2 or PyTorch equivalent; re-save the model with 'valid' or 'same'");
  auto branches = NormalizeText(R"({"class_name": "Sequential", "config": [
      {"class_name": "Merge", "config": {"name": "merge_1", "mode": "concat", "layers": []}}]})",
                                "1.2.2");
  EXPECT_EQ(ErrorOf(branches),
            "layer 'merge_1' (Merge): a Merge of Sequential branches (a Keras 1 Sequential model "
            "that starts with Merge) is not supported; rebuild it as a functional Model");
}

// Keras 1 JSON written without a version is still recognised by its names.
TEST(NormalizeKerasOneTest, DialectWithoutVersion) {
  ModelFile file = JsonModelFile(R"({"class_name": "Sequential", "config": [
      {"class_name": "Dense", "config": {"name": "d", "output_dim": 2,
       "batch_input_shape": [null, 3]}}]})");
  EXPECT_EQ(DetectKeras(file).major, 1);
  ModelFile embedding = JsonModelFile(R"({"class_name": "Sequential", "config": [
      {"class_name": "Embedding", "config": {"name": "e", "output_dim": 2, "input_dim": 9,
       "embeddings_initializer": "uniform", "batch_input_shape": [null, 3]}}]})");
  EXPECT_EQ(DetectKeras(embedding).major, 2);
}

}  // namespace
}  // namespace k2t::config
