// The caps on what a hostile file may declare (support/limits.h): each one
// refuses just above its value, lets its value through, and names its flag.
#include <gtest/gtest.h>
#include <zip.h>

#include <algorithm>
#include <memory>

#include "config/normalize.h"
#include "h5_builder.h"
#include "ir/graph.h"
#include "readers/hdf5.h"
#include "readers/weight_source.h"
#include "readers/zip_archive.h"
#include "test_util.h"

namespace k2t {
namespace {

using testing::H5Builder;
using testing::TempDir;

// Input "x" -> d0 -> d1 -> ... -> d{n-1}, in Keras 2 form.
std::string DenseChain(int n) {
  std::string layers =
      R"({"class_name": "InputLayer", "name": "x", "inbound_nodes": [],
          "config": {"batch_input_shape": [null, 4], "name": "x"}})";
  std::string previous = "x";
  for (int i = 0; i < n; ++i) {
    const std::string name = "d" + std::to_string(i);
    layers += R"(, {"class_name": "Dense", "name": ")" + name + R"(", "config": {"name": ")" +
              name + R"(", "units": 4}, "inbound_nodes": [[[")" + previous + R"(", 0, 0, {}]]]})";
    previous = name;
  }
  return R"({"class_name": "Functional", "config": {"name": "m", "layers": [)" + layers +
         R"(], "input_layers": [["x", 0, 0]], "output_layers": [[")" + previous +
         R"(", 0, 0]]}})";
}

Expected<ir::Graph> BuildWith(const config::NormalizedModel& model, const Limits& limits) {
  return ir::BuildGraph(model.model, limits);
}

TEST(LimitsTest, LayerCount) {
  auto model = config::Normalize(testing::JsonModelFile(DenseChain(5), "2.15.0"));
  ASSERT_TRUE(model.ok()) << model.error().Describe();
  Limits limits;
  limits.layers = 5;  // the InputLayer counts too: six layers
  auto graph = BuildWith(*model, limits);
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.error().message(),
            "the model has 6 layers, more than the limit of 5 (raise it with --max-layers)");
  limits.layers = 6;
  EXPECT_TRUE(BuildWith(*model, limits).ok());
}

TEST(LimitsTest, NodeCount) {
  auto model = config::Normalize(testing::JsonModelFile(DenseChain(5), "2.15.0"));
  ASSERT_TRUE(model.ok());
  Limits limits;
  limits.nodes = 4;
  auto graph = BuildWith(*model, limits);
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.error().message(),
            "the model makes more layer calls than the limit of 4 (raise it with --max-nodes)");
  limits.nodes = 5;
  EXPECT_TRUE(BuildWith(*model, limits).ok());
}

TEST(LimitsTest, LayersListedBackwardsKeepTheirOrder) {
  // Every layer after the input listed in reverse: one call becomes ready per
  // pass over the list. The builder replays those passes from a heap instead
  // of rescanning the list (n passes of n calls); the order must not change.
  constexpr int kLayers = 2000;
  auto text = DenseChain(kLayers);
  auto parsed = ParseJson(text);
  ASSERT_TRUE(parsed.ok());
  Json& layers = (*parsed)["config"]["layers"];
  std::reverse(layers.begin() + 1, layers.end());
  ModelFile file = testing::JsonModelFile("{}", "2.15.0");
  file.model = *parsed;
  auto model = config::Normalize(file);
  ASSERT_TRUE(model.ok()) << model.error().Describe();
  auto graph = ir::BuildGraph(model->model);
  ASSERT_TRUE(graph.ok()) << graph.error().Describe();
  ASSERT_EQ(graph->nodes.size(), static_cast<std::size_t>(kLayers));
  // Nodes still come in an order where each input exists first.
  EXPECT_EQ(graph->layer_of(graph->nodes.front()).name, "d0");
  EXPECT_EQ(graph->layer_of(graph->nodes.back()).name, "d" + std::to_string(kLayers - 1));
}

TEST(LimitsTest, ElementCountIsCheckedForOverflowFirst) {
  EXPECT_TRUE(h5::CheckElementCount("w", {2, 3}, 6).ok());
  auto over = h5::CheckElementCount("weight 'w'", {2, 3}, 5);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().message(),
            "weight 'w' has 6 elements, more than the limit of 5 "
            "(raise it with --max-tensor-elements)");
  const std::int64_t big = std::int64_t{1} << 40;
  auto overflow = h5::CheckElementCount("weight 'w'", {big, big}, 5);
  ASSERT_FALSE(overflow.ok());
  EXPECT_EQ(overflow.error().message(),
            "weight 'w' has shape [1099511627776, 1099511627776], whose element count overflows");
}

TEST(LimitsTest, WeightShapesAreCheckedWhenListed) {
  TempDir dir;
  const std::string path = dir.File("weights.h5");
  {
    H5Builder b(path);
    b.VarStrings("/", "layer_names", {"dense"});
    b.Group("dense");
    b.VarStrings("/dense", "weight_names", {"dense/kernel:0"});
    b.Floats("dense/dense/kernel:0", {4, 3}, std::vector<float>(12, 1.0f));
  }
  Limits limits;
  limits.tensor_elements = 11;
  auto source = WeightSource::OpenFile(path, limits);
  ASSERT_TRUE(source.ok()) << source.error().message();
  auto refs = (*source)->LayerWeights("dense");
  ASSERT_FALSE(refs.ok());
  EXPECT_EQ(refs.error().message(),
            "weight 'dense/kernel:0' of layer 'dense' cannot be read: dataset "
            "'/dense/dense/kernel:0' has 12 elements, more than the limit of 11 "
            "(raise it with --max-tensor-elements)");
  limits.tensor_elements = 12;
  auto fits = WeightSource::OpenFile(path, limits);
  ASSERT_TRUE(fits.ok());
  auto listed = (*fits)->LayerWeights("dense");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE((*fits)->Read((*listed)[0]).ok());
}

TEST(LimitsTest, ZipArchiveFromMemory) {
  TempDir dir;
  const std::string path = dir.File("model.keras");
  {
    int code = 0;
    zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
    ASSERT_NE(archive, nullptr);
    const std::string zeros(100000, '\0');
    zip_source_t* source = zip_source_buffer(archive, zeros.data(), zeros.size(), 0);
    ASSERT_GE(zip_file_add(archive, "zeros.bin", source, 0), 0);
    ASSERT_EQ(zip_close(archive), 0);
  }
  const std::string bytes = testing::ReadBytes(path);
  auto archive = ZipArchive::OpenBuffer(bytes.data(), bytes.size());
  ASSERT_TRUE(archive.ok()) << archive.error().message();
  EXPECT_EQ(archive->Read("zeros.bin")->size(), 100000u);

  ZipLimits limits;
  limits.max_member_bytes = 99999;
  auto capped = ZipArchive::OpenBuffer(bytes.data(), bytes.size(), limits);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->Read("zeros.bin").error().message(),
            "member 'zeros.bin' unpacks to 100000 bytes, more than the limit of 99999 bytes "
            "(raise it with --max-zip-member-bytes)");

  const std::string cut = bytes.substr(0, bytes.size() / 2);
  auto broken = ZipArchive::OpenBuffer(cut.data(), cut.size());
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().message(),
            "the zip archive is truncated or damaged: its central directory is missing or "
            "unreadable");
}

TEST(LimitsTest, JsonCapsNameTheirFlags) {
  JsonLimits limits;
  limits.max_bytes = 4;
  EXPECT_EQ(ParseJson("[1,2]", limits).error().message(),
            "the JSON text is 5 bytes, more than the limit of 4 bytes "
            "(raise it with --max-json-bytes)");
  limits.max_bytes = 5;
  EXPECT_TRUE(ParseJson("[1,2]", limits).ok());
}

}  // namespace
}  // namespace k2t
