#include "readers/weight_source.h"

#include <gtest/gtest.h>

#include "h5_builder.h"
#include "test_util.h"

namespace k2t {
namespace {

using testing::H5Builder;
using testing::TempDir;

std::vector<std::string> Names(const std::vector<WeightRef>& refs) {
  std::vector<std::string> names;
  for (const auto& ref : refs) names.push_back(ref.name);
  return names;
}

// A tf.keras model.save("m.h5") layout (keras-formats.md §2.1).
void WriteLegacyModel(const std::string& path) {
  H5Builder b(path);
  b.VarStrings("/", "keras_version", {"2.15.0"}, true, true);
  b.Group("model_weights");
  b.VarStrings("/model_weights", "layer_names", {"dense", "dropout", "dense_1"});
  b.VarStrings("/model_weights", "keras_version", {"2.15.0"}, false, true);
  b.VarStrings("/model_weights", "backend", {"tensorflow"}, false, true);
  b.Group("model_weights/dense");
  b.VarStrings("/model_weights/dense", "weight_names", {"dense/kernel:0", "dense/bias:0"});
  b.Floats("model_weights/dense/dense/kernel:0", {4, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  b.Floats("model_weights/dense/dense/bias:0", {2}, {0.5f, -0.5f});
  b.Group("model_weights/dropout");
  b.EmptyFloatArray("/model_weights/dropout", "weight_names");
  b.Group("model_weights/dense_1");
  b.FixedStrings("/model_weights/dense_1", "weight_names0", {"dense_1/kernel:0"});
  b.FixedStrings("/model_weights/dense_1", "weight_names1", {"dense_1/bias:0"});
  b.Floats("model_weights/dense_1/dense_1/kernel:0", {2, 1}, {1, 1});
  b.Floats("model_weights/dense_1/dense_1/bias:0", {1}, {0});
}

TEST(WeightSourceTest, LegacyFullModel) {
  TempDir dir;
  const std::string path = dir.File("model.h5");
  WriteLegacyModel(path);

  auto source = WeightSource::OpenFile(path);
  ASSERT_TRUE(source.ok()) << source.error().message();
  const WeightSource& weights = **source;
  EXPECT_EQ(weights.layout(), WeightLayout::kLegacy);
  EXPECT_EQ(weights.keras_version(), "2.15.0");
  EXPECT_EQ(weights.backend(), "tensorflow");
  EXPECT_EQ(*weights.LayerNames(), (std::vector<std::string>{"dense", "dropout", "dense_1"}));

  auto dense = weights.LayerWeights("dense");
  ASSERT_TRUE(dense.ok());
  ASSERT_EQ(dense->size(), 2u);
  EXPECT_EQ((*dense)[0].name, "dense/kernel:0");
  EXPECT_EQ((*dense)[0].dataset_path, "/model_weights/dense/dense/kernel:0");
  EXPECT_EQ((*dense)[0].shape, (Shape{4, 2}));
  EXPECT_EQ((*dense)[0].dtype, DType::kF32);
  EXPECT_EQ((*dense)[1].shape, (Shape{2}));

  EXPECT_TRUE(weights.LayerWeights("dropout")->empty());
  EXPECT_EQ(Names(*weights.LayerWeights("dense_1")),
            (std::vector<std::string>{"dense_1/kernel:0", "dense_1/bias:0"}));

  auto kernel = weights.Read((*dense)[0]);
  ASSERT_TRUE(kernel.ok());
  EXPECT_EQ(kernel->shape(), (Shape{4, 2}));
  EXPECT_EQ(kernel->as<float>()[7], 7.0f);
}

TEST(WeightSourceTest, LegacyErrors) {
  TempDir dir;
  const std::string path = dir.File("broken.h5");
  {
    H5Builder b(path);
    b.VarStrings("/", "layer_names", {"dense", "linked"});
    b.Group("dense");
    b.VarStrings("/dense", "weight_names", {"dense/kernel:0", "dense/bias:0"});
    b.Floats("dense/dense/kernel:0", {2, 2}, {0, 0, 0, 0});
    b.Floats("elsewhere/kernel:0", {2}, {0, 0});
    b.Group("real");
    b.VarStrings("/real", "weight_names", {"kernel:0"});
    b.Floats("real/kernel:0", {2}, {0, 0});
    b.SoftLink("/real", "/linked");
    b.VarStrings("/dense", "other_names", {"../elsewhere/kernel:0"});
  }
  auto source = WeightSource::OpenFile(path);
  ASSERT_TRUE(source.ok()) << source.error().message();
  EXPECT_EQ((*source)->keras_version(), "");

  auto dense = (*source)->LayerWeights("dense");
  ASSERT_FALSE(dense.ok());
  EXPECT_EQ(dense.error().message(),
            "weight 'dense/bias:0' of layer 'dense' cannot be read: dataset "
            "'/dense/dense/bias:0' not found");

  auto missing = (*source)->LayerWeights("conv2d");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "the weights file has no group for layer 'conv2d'");

  auto linked = (*source)->LayerWeights("linked");
  ASSERT_FALSE(linked.ok());
  EXPECT_EQ(linked.error().message(),
            "the weights of layer 'linked' cannot be read: group '/linked' is reached through a "
            "soft link '/linked', which keras2torch does not follow");
}

TEST(WeightSourceTest, LegacyWeightsOnlyWithChunkedLayerNames) {
  TempDir dir;
  const std::string path = dir.File("weights.h5");
  {
    H5Builder b(path);
    b.FixedStrings("/", "layer_names0", {"a", "b"});
    b.FixedStrings("/", "layer_names1", {"c"});
    for (const char* name : {"a", "b", "c"}) {
      b.Group(name);
      b.EmptyFloatArray(std::string("/") + name, "weight_names");
    }
  }
  auto source = WeightSource::OpenFile(path);
  ASSERT_TRUE(source.ok()) << source.error().message();
  EXPECT_EQ((*source)->layout(), WeightLayout::kLegacy);
  EXPECT_EQ(*(*source)->LayerNames(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE((*source)->LayerWeights("c")->empty());
}

TEST(WeightSourceTest, KerasThreeVars) {
  TempDir dir;
  const std::string path = dir.File("model.weights.h5");
  {
    H5Builder b(path);
    b.Group("vars");
    b.V3Vars("layers/dense", {{4, 2}, {2}}, "dense");
    b.V3Vars("layers/lstm/cell", {{3, 8}, {2, 8}, {8}}, "lstm_cell");
    // Eleven variables: "10" must come after "9".
    std::vector<std::vector<hsize_t>> many;
    for (hsize_t i = 0; i < 11; ++i) many.push_back({i + 1});
    b.V3Vars("layers/custom", many);
    b.Group("layers/input_layer/vars");
  }
  auto source = WeightSource::OpenFile(path);
  ASSERT_TRUE(source.ok()) << source.error().message();
  const WeightSource& weights = **source;
  EXPECT_EQ(weights.layout(), WeightLayout::kV3);

  auto dense = weights.Vars("layers/dense");
  ASSERT_TRUE(dense.ok());
  EXPECT_EQ(Names(*dense), (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ((*dense)[0].dataset_path, "/layers/dense/vars/0");
  EXPECT_EQ((*dense)[0].shape, (Shape{4, 2}));
  EXPECT_EQ(weights.VarsName("layers/dense"), "dense");
  EXPECT_EQ(weights.VarsName("layers/lstm/cell"), "lstm_cell");
  EXPECT_FALSE(weights.VarsName("layers/custom").has_value());
  EXPECT_FALSE(weights.VarsName("layers/nothing").has_value());

  auto custom = weights.Vars("layers/custom");
  ASSERT_TRUE(custom.ok());
  ASSERT_EQ(custom->size(), 11u);
  for (std::size_t i = 0; i < 11; ++i) {
    EXPECT_EQ((*custom)[i].shape, (Shape{static_cast<std::int64_t>(i + 1)}));
  }
  EXPECT_TRUE(weights.Vars("layers/input_layer")->empty());
  EXPECT_TRUE(weights.Vars("layers/absent")->empty());
  EXPECT_TRUE(weights.Vars("")->empty());

  EXPECT_TRUE(weights.HasGroup("layers/lstm"));
  EXPECT_TRUE(weights.HasGroup(""));
  EXPECT_FALSE(weights.HasGroup("layers/gru"));
  EXPECT_EQ(*weights.Children("layers"),
            (std::vector<std::string>{"custom", "dense", "input_layer", "lstm"}));
  EXPECT_EQ(*weights.Children(""), (std::vector<std::string>{"layers", "vars"}));

  auto bias = weights.Read((*dense)[1]);
  ASSERT_TRUE(bias.ok());
  EXPECT_EQ(bias->as<float>()[1], 1.0f);
}

TEST(WeightSourceTest, KerasThreeVarsErrors) {
  TempDir dir;
  const std::string path = dir.File("bad.weights.h5");
  {
    H5Builder b(path);
    b.Floats("layers/gap/vars/0", {1}, {0});
    b.Floats("layers/gap/vars/2", {1}, {0});
    b.Floats("layers/odd/vars/kernel", {1}, {0});
  }
  auto source = WeightSource::OpenFile(path);
  ASSERT_TRUE(source.ok());
  auto gap = (*source)->Vars("layers/gap");
  ASSERT_FALSE(gap.ok());
  EXPECT_EQ(gap.error().message(), "weights group 'layers/gap/vars' skips variable 1");
  auto odd = (*source)->Vars("layers/odd");
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.error().message(), "unexpected entry 'kernel' in weights group 'layers/odd/vars'");
}

TEST(WeightSourceTest, FilesWithoutWeights) {
  TempDir dir;
  const std::string empty = dir.File("empty.h5");
  {
    H5Builder b(empty);
    b.Group("something_else");
  }
  auto none = WeightSource::OpenFile(empty);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().message(),
            "the HDF5 file holds no Keras weights (no layer_names attribute, no layers group)");

  const std::string ancient = dir.File("keras0.h5");
  {
    H5Builder b(ancient);
    b.IntAttribute("/", "nb_layers", 2);
  }
  auto old = WeightSource::OpenFile(ancient);
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.error().message(),
            "this Keras 0.x weights file has no group 'layer_0', but its nb_layers is 2");
}

// Keras 0.x save_weights: layer_K groups of param_I datasets, read by position.
TEST(WeightSourceTest, Keras0Layers) {
  TempDir dir;
  const std::string path = dir.File("keras0.h5");
  {
    H5Builder b(path);
    b.IntAttribute("/", "nb_layers", 2);
    b.Group("layer_0");
    b.IntAttribute("layer_0", "nb_params", 2);
    b.Floats("layer_0/param_0", {3, 2}, {1, 2, 3, 4, 5, 6});
    b.Floats("layer_0/param_1", {2}, {7, 8});
    b.Group("layer_1");
    b.IntAttribute("layer_1", "nb_params", 0);
  }
  auto source = WeightSource::OpenFile(path);
  ASSERT_TRUE(source.ok()) << source.error().message();
  EXPECT_TRUE((*source)->keras0());
  EXPECT_EQ((*source)->layout(), WeightLayout::kLegacy);
  auto names = (*source)->LayerNames();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"layer_0", "layer_1"}));
  auto first = (*source)->LayerWeights("layer_0");
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].shape, (Shape{3, 2}));
  EXPECT_EQ((*first)[1].name, "param_1");
  auto second = (*source)->LayerWeights("layer_1");
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->empty());

  const std::string short_group = dir.File("short.h5");
  {
    H5Builder b(short_group);
    b.IntAttribute("/", "nb_layers", 1);
    b.Group("layer_0");
    b.IntAttribute("layer_0", "nb_params", 2);
    b.Floats("layer_0/param_0", {2}, {1, 2});
  }
  auto refused = WeightSource::OpenFile(short_group);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message(),
            "group 'layer_0' of this Keras 0.x weights file holds 1 member(s), but its nb_params "
            "is 2");
}

TEST(WeightSourceTest, OpenImageOwnsItsBytes) {
  TempDir dir;
  const std::string path = dir.File("model.weights.h5");
  {
    H5Builder b(path);
    b.V3Vars("layers/dense", {{2, 2}, {2}});
  }
  const std::string bytes = testing::ReadBytes(path);
  auto source = WeightSource::OpenImage(std::vector<char>(bytes.begin(), bytes.end()));
  ASSERT_TRUE(source.ok()) << source.error().message();
  auto vars = (*source)->Vars("layers/dense");
  ASSERT_TRUE(vars.ok());
  auto kernel = (*source)->Read((*vars)[0]);
  ASSERT_TRUE(kernel.ok());
  EXPECT_EQ(kernel->as<float>()[3], 1.0f);
}

}  // namespace
}  // namespace k2t
