#include "readers/sharded_weights.h"

#include <gtest/gtest.h>

#include "h5_builder.h"
#include "test_util.h"

namespace k2t {
namespace {

using testing::H5Builder;
using testing::TempDir;

// Two shards as Keras writes them when a shard fills up between a layer's
// kernel and its bias: the group is created (and named) in the first.
void WriteSplitShards(const TempDir& dir) {
  {
    H5Builder b(dir.File("m_00000.weights.h5"));
    b.Floats("layers/dense/vars/0", {2, 3}, {0, 1, 2, 3, 4, 5});
    b.VarStrings("/layers/dense/vars", "name", {"dense"}, true, true);
  }
  H5Builder b(dir.File("m_00001.weights.h5"));
  b.Floats("layers/dense/vars/1", {3}, {7, 8, 9});
}

Expected<std::unique_ptr<WeightSource>> Open(const std::string& path, std::string_view index) {
  auto json = ParseJson(index);
  EXPECT_TRUE(json.ok());
  return OpenShardedWeights(path, *json);
}

std::string Describe(const Error& error) { return error.Describe(); }

TEST(ShardedWeightsTest, GroupSplitOverTwoShards) {
  TempDir dir;
  WriteSplitShards(dir);
  auto source = Open(dir.File("m.weights.json"), R"({"weight_map": {"/layers/dense/vars":
      ["m_00000.weights.h5", "m_00001.weights.h5"]}})");
  ASSERT_TRUE(source.ok()) << source.error().message();
  const WeightSource& weights = **source;
  EXPECT_EQ(weights.layout(), WeightLayout::kV3);
  EXPECT_TRUE(weights.HasGroup("layers/dense"));
  EXPECT_FALSE(weights.HasGroup("layers/den"));
  EXPECT_EQ(*weights.Children(""), (std::vector<std::string>{"layers"}));
  EXPECT_EQ(*weights.Children("layers"), (std::vector<std::string>{"dense"}));
  EXPECT_EQ(weights.VarsName("layers/dense"), "dense");
  EXPECT_TRUE(weights.Vars("layers/other")->empty());

  auto vars = weights.Vars("layers/dense");
  ASSERT_TRUE(vars.ok()) << vars.error().message();
  ASSERT_EQ(vars->size(), 2u);
  EXPECT_EQ((*vars)[0].shape, (Shape{2, 3}));
  EXPECT_EQ((*vars)[1].shape, (Shape{3}));
  // Read in the order that switches shards each time.
  for (int round = 0; round < 2; ++round) {
    auto bias = weights.Read((*vars)[1]);
    ASSERT_TRUE(bias.ok()) << bias.error().message();
    EXPECT_EQ(bias->as<float>()[2], 9.0f);
    auto kernel = weights.Read((*vars)[0]);
    ASSERT_TRUE(kernel.ok()) << kernel.error().message();
    EXPECT_EQ(kernel->as<float>()[5], 5.0f);
  }
}

TEST(ShardedWeightsTest, IndexErrors) {
  TempDir dir;
  WriteSplitShards(dir);
  const std::string index = dir.File("m.weights.json");
  auto message = [&](std::string_view text) {
    auto source = Open(index, text);
    return source.ok() ? "(no error)" : source.error().message();
  };
  EXPECT_EQ(message(R"({"metadata": {}})"),
            "the index of sharded weights has no weight_map object");
  EXPECT_EQ(message(R"({"weight_map": {"/layers/dense/vars": "/etc/passwd"}})"),
            "weight_map entry '/layers/dense/vars' names shard '/etc/passwd', which is not a "
            "plain file name; shards are read only from the index's directory");
  EXPECT_EQ(message(R"({"weight_map": {"/layers/dense/vars": [".."]}})"),
            "weight_map entry '/layers/dense/vars' names shard '..', which is not a plain file "
            "name; shards are read only from the index's directory");
  EXPECT_EQ(message(R"({"weight_map": {"/layers/dense/vars": ["m_00007.weights.h5"]}})"),
            "shard 'm_00007.weights.h5' of weight_map entry '/layers/dense/vars' is not in the "
            "index's directory");
  EXPECT_EQ(message(R"({"weight_map": {"/layers/dense/vars": []}})"),
            "weight_map entry '/layers/dense/vars' is [], not a shard file name or a list of "
            "them");
  EXPECT_EQ(message(R"({"weight_map": {"layers/dense": "m_00000.weights.h5"}})"),
            "weight_map entry 'layers/dense' is not the path of a variables group (such as "
            "'/layers/dense/vars')");
}

TEST(ShardedWeightsTest, ShardsThatDisagreeWithTheIndex) {
  TempDir dir;
  WriteSplitShards(dir);
  const std::string index = dir.File("m.weights.json");

  // Only the second shard listed: variable 0 is not found.
  auto source = Open(index, R"({"weight_map": {"/layers/dense/vars": "m_00001.weights.h5"}})");
  ASSERT_TRUE(source.ok());
  auto vars = (*source)->Vars("layers/dense");
  ASSERT_FALSE(vars.ok());
  EXPECT_EQ(Describe(vars.error()),
            index + ": weights group '/layers/dense/vars' skips variable 0 in every shard the "
                    "index lists for it");

  // A shard that holds nothing of the group.
  source = Open(index, R"({"weight_map": {"/layers/other/vars": "m_00000.weights.h5"}})");
  ASSERT_TRUE(source.ok());
  vars = (*source)->Vars("layers/other");
  ASSERT_FALSE(vars.ok());
  EXPECT_EQ(Describe(vars.error()),
            index + ": weight_map sends '/layers/other/vars' to shard 'm_00000.weights.h5', "
                    "which holds no variables there");

  // A shard that is not HDF5: the shard is named.
  testing::WriteBytes(dir.File("m_00002.weights.h5"), "not hdf5");
  source = Open(index, R"({"weight_map": {"/layers/dense/vars": "m_00002.weights.h5"}})");
  ASSERT_TRUE(source.ok());
  vars = (*source)->Vars("layers/dense");
  ASSERT_FALSE(vars.ok());
  EXPECT_EQ(Describe(vars.error()), dir.File("m_00002.weights.h5") + ": not an HDF5 file");
}

}  // namespace
}  // namespace k2t
