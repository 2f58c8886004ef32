#include "readers/tfjs.h"

#include <gtest/gtest.h>

#include <cstring>

#include "test_util.h"

namespace k2t {
namespace {

using testing::TempDir;

// A functional model "m" with a Dense "top" and a nested Sequential "inner"
// holding Dense "dense"; the manifest is spliced in.
std::string ModelJson(const std::string& weights, const std::string& paths) {
  return R"({"format": "layers-model", "modelTopology": {"keras_version": "2.15.0",
    "model_config": {"class_name": "Functional", "config": {"name": "m", "layers": [
      {"class_name": "Dense", "config": {"name": "top"}},
      {"class_name": "Sequential", "config": {"name": "inner", "layers": [
        {"class_name": "Dense", "config": {"name": "dense"}}]}}]}}},
    "weightsManifest": [{"paths": )" +
         paths + R"(, "weights": )" + weights + "}]}";
}

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

Expected<ModelFile> Read(const std::string& path) { return ReadModelFile(path, {}); }

std::vector<float> Floats(const Tensor& tensor) {
  return std::vector<float>(tensor.as<float>(), tensor.as<float>() + tensor.size());
}

TEST(TfjsTest, DequantizesAsTensorFlowJs) {
  TempDir dir;
  // uint8 kernel (4 bytes), uint16 bias (4 bytes), float16 pair (4 bytes),
  // int32 from uint8 (2 bytes), float32 (4 bytes): 18 bytes over shards of
  // 5, 5 and 9 bytes, so that values straddle files; the last shard has one
  // byte more than needed, which TensorFlow.js ignores too.
  std::string data = Bytes<std::uint8_t>({0, 1, 128, 255}) + Bytes<std::uint16_t>({0, 65535}) +
                     Bytes<std::uint16_t>({0x3C00, 0xC000}) + Bytes<std::uint8_t>({3, 4}) +
                     Bytes<float>({0.25f}) + "x";
  testing::WriteBytes(dir.File("a.bin"), data.substr(0, 5));
  testing::WriteBytes(dir.File("b.bin"), data.substr(5, 5));
  testing::WriteBytes(dir.File("c.bin"), data.substr(10));
  const std::string weights = R"([
    {"name": "top/kernel", "shape": [2, 2], "dtype": "float32",
     "quantization": {"dtype": "uint8", "scale": 0.1, "min": -1.5}},
    {"name": "top/bias", "shape": [2], "dtype": "float32",
     "quantization": {"dtype": "uint16", "scale": 0.001, "min": -2}},
    {"name": "dense/kernel", "shape": [2], "dtype": "float32",
     "quantization": {"dtype": "float16"}},
    {"name": "dense/bias", "shape": [2], "dtype": "int32",
     "quantization": {"dtype": "uint8", "scale": 0.5, "min": 0}},
    {"name": "inner/extra", "shape": [], "dtype": "float32"}])";
  const std::string path = dir.File("model.json");
  testing::WriteBytes(path, ModelJson(weights, R"(["a.bin", "b.bin", "c.bin"])"));
  auto file = Read(path);
  ASSERT_TRUE(file.ok()) << file.error().Describe();
  EXPECT_EQ(file->format, FileFormat::kTfjs);
  EXPECT_EQ(file->keras_version, "2.15.0");
  const WeightSource& source = *file->weights;

  // tf.keras names a nested model's weights after the inner layer only.
  auto layers = source.LayerNames();
  ASSERT_TRUE(layers.ok());
  EXPECT_EQ(*layers, (std::vector<std::string>{"top", "inner"}));
  auto top = source.LayerWeights("top");
  auto inner = source.LayerWeights("inner");
  ASSERT_TRUE(top.ok() && inner.ok());
  ASSERT_EQ(top->size(), 2u);
  ASSERT_EQ(inner->size(), 3u);

  auto kernel = source.Read((*top)[0]);
  ASSERT_TRUE(kernel.ok()) << kernel.error().Describe();
  EXPECT_EQ(kernel->shape(), (Shape{2, 2}));
  // q * scale + min in double, rounded once to float32.
  std::vector<float> expected;
  for (int q : {0, 1, 128, 255}) expected.push_back(static_cast<float>(q * 0.1 - 1.5));
  EXPECT_EQ(Floats(*kernel), expected);
  auto bias = source.Read((*top)[1]);
  ASSERT_TRUE(bias.ok());
  EXPECT_EQ(Floats(*bias), (std::vector<float>{-2.0f, static_cast<float>(65535 * 0.001 - 2)}));
  auto half = source.Read((*inner)[0]);
  ASSERT_TRUE(half.ok());
  EXPECT_EQ(Floats(*half), (std::vector<float>{1.0f, -2.0f}));
  // int32 weights are rounded half to even, as numpy's round.
  auto ints = source.Read((*inner)[1]);
  ASSERT_TRUE(ints.ok());
  ASSERT_EQ(ints->dtype(), DType::kI32);
  EXPECT_EQ(ints->as<std::int32_t>()[0], 2);  // 1.5
  EXPECT_EQ(ints->as<std::int32_t>()[1], 2);  // 2.0
  auto scalar = source.Read((*inner)[2]);
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(Floats(*scalar), (std::vector<float>{0.25f}));
}

TEST(TfjsTest, KerasThreeSequentialPrefixIsSkipped) {
  TempDir dir;
  testing::WriteBytes(dir.File("w.bin"), Bytes<float>({1, 2}));
  const std::string path = dir.File("model.json");
  // Keras 3 prefixes a Sequential model's weight names with the model's name.
  testing::WriteBytes(path, ModelJson(R"([{"name": "m/top/kernel", "shape": [2],
                                          "dtype": "float32"}])",
                                      R"(["w.bin"])"));
  auto file = Read(path);
  ASSERT_TRUE(file.ok()) << file.error().Describe();
  auto layers = file->weights->LayerNames();
  ASSERT_TRUE(layers.ok());
  EXPECT_EQ(*layers, (std::vector<std::string>{"top"}));
}

TEST(TfjsTest, RefusesDuplicatesAndBadQuantization) {
  TempDir dir;
  testing::WriteBytes(dir.File("w.bin"), Bytes<float>({1, 2}));
  const std::string path = dir.File("model.json");
  testing::WriteBytes(path, ModelJson(R"([{"name": "top/k", "shape": [1], "dtype": "float32"},
                                          {"name": "top/k", "shape": [1], "dtype": "float32"}])",
                                      R"(["w.bin"])"));
  EXPECT_EQ(Read(path).error().Describe(),
            path + ": weightsManifest lists weight 'top/k' twice");

  testing::WriteBytes(path, ModelJson(R"([{"name": "top/k", "shape": [1], "dtype": "float32",
                                           "quantization": {"dtype": "uint8", "scale": 1}}])",
                                      R"(["w.bin"])"));
  EXPECT_EQ(Read(path).error().Describe(),
            path + ": weightsManifest group 1: weight 'top/k': uint8 quantization without a "
                   "finite 'min'");

  testing::WriteBytes(path, ModelJson(R"([{"name": "top/k", "shape": [1], "dtype": "int32",
                                           "quantization": {"dtype": "float16"}}])",
                                      R"(["w.bin"])"));
  EXPECT_EQ(Read(path).error().Describe(),
            path + ": weightsManifest group 1: weight 'top/k': float16 quantization applies to "
                   "float32 weights, not int32");

  testing::WriteBytes(path, ModelJson(R"([{"name": "top/k", "shape": [-1], "dtype": "float32"}])",
                                      R"(["w.bin"])"));
  EXPECT_EQ(Read(path).error().Describe(),
            path + ": weightsManifest group 1: weight 'top/k': 'shape' holds -1, not a size");

  testing::WriteBytes(path, ModelJson("[]", R"(["/etc/passwd"])"));
  EXPECT_EQ(Read(path).error().Describe(),
            path + ": weightsManifest group 1: shard path '/etc/passwd' is not a file name "
                   "beside model.json");
}

}  // namespace
}  // namespace k2t
