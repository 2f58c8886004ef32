#include "readers/model_file.h"

#include <gtest/gtest.h>
#include <zip.h>

#include "h5_builder.h"
#include "test_util.h"

namespace k2t {
namespace {

using testing::H5Builder;
using testing::TempDir;

constexpr const char* kConfig =
    R"({"class_name": "Sequential", "config": {"name": "s", "layers": [)"
    R"({"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "in"}},)"
    R"({"class_name": "Dense", "config": {"name": "d", "units": 2}}]}})";

std::string Describe(const Expected<ModelFile>& file) {
  return file.ok() ? "(no error)" : file.error().Describe();
}

void WriteFullModelH5(const std::string& path) {
  H5Builder b(path);
  b.VarStrings("/", "model_config", {kConfig}, true, true);
  b.VarStrings("/", "keras_version", {"2.15.0"}, true, true);
  b.VarStrings("/", "backend", {"tensorflow"}, true, true);
  b.Group("model_weights");
  b.VarStrings("/model_weights", "layer_names", {"d"});
  b.Group("model_weights/d");
  b.VarStrings("/model_weights/d", "weight_names", {"d/kernel:0", "d/bias:0"});
  b.Floats("model_weights/d/d/kernel:0", {4, 2}, std::vector<float>(8, 0.0f));
  b.Floats("model_weights/d/d/bias:0", {2}, {0, 0});
}

void WriteZip(const std::string& path,
              const std::vector<std::pair<std::string, std::string>>& members) {
  int code = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  ASSERT_NE(archive, nullptr);
  for (const auto& [name, data] : members) {
    zip_source_t* source = zip_source_buffer(archive, data.data(), data.size(), 0);
    ASSERT_GE(zip_file_add(archive, name.c_str(), source, ZIP_FL_ENC_UTF_8), 0);
  }
  ASSERT_EQ(zip_close(archive), 0);
}

std::string V3WeightsImage(const TempDir& dir) {
  const std::string path = dir.File("inner.weights.h5");
  {
    H5Builder b(path);
    b.Group("vars");
    b.V3Vars("layers/dense", {{4, 2}, {2}});
  }
  return testing::ReadBytes(path);
}

TEST(ModelFileTest, HdfFiveNamedKeras) {
  TempDir dir;
  const std::string path = dir.File("really_hdf5.keras");
  WriteFullModelH5(path);
  auto file = ReadModelFile(path, {});
  ASSERT_TRUE(file.ok()) << Describe(file);
  EXPECT_EQ(file->format, FileFormat::kLegacyH5);
  EXPECT_EQ(file->path, path);
  EXPECT_EQ(file->keras_version, "2.15.0");
  EXPECT_EQ(file->backend, "tensorflow");
  EXPECT_EQ(file->model["class_name"], "Sequential");
  ASSERT_NE(file->weights, nullptr);
  EXPECT_EQ(file->weights->layout(), WeightLayout::kLegacy);
  EXPECT_EQ(FormatName(file->format), "HDF5 full model");
}

TEST(ModelFileTest, ZipNamedH5) {
  TempDir dir;
  const std::string path = dir.File("really_zip.h5");
  WriteZip(path, {{"metadata.json", R"({"keras_version": "3.15.1", "date_saved": "x"})"},
                  {"config.json", kConfig},
                  {"model.weights.h5", V3WeightsImage(dir)}});
  auto file = ReadModelFile(path, {});
  ASSERT_TRUE(file.ok()) << Describe(file);
  EXPECT_EQ(file->format, FileFormat::kKerasZip);
  EXPECT_EQ(file->keras_version, "3.15.1");
  ASSERT_NE(file->weights, nullptr);
  EXPECT_EQ(file->weights->layout(), WeightLayout::kV3);
  EXPECT_EQ(FormatName(file->format), ".keras archive");
}

TEST(ModelFileTest, JsonArchitecture) {
  TempDir dir;
  const std::string path = dir.File("model.txt");
  std::string json = kConfig;
  json.insert(json.size() - 1, R"(, "keras_version": "2.4.0", "backend": "theano")");
  testing::WriteBytes(path, "\n  " + json);
  auto file = ReadModelFile(path, {});
  ASSERT_TRUE(file.ok()) << Describe(file);
  EXPECT_EQ(file->format, FileFormat::kJsonConfig);
  EXPECT_EQ(file->keras_version, "2.4.0");
  EXPECT_EQ(file->backend, "theano");
  EXPECT_EQ(file->weights, nullptr);
}

TEST(ModelFileTest, JsonWithSeparateWeights) {
  TempDir dir;
  const std::string json = dir.File("model.json");
  testing::WriteBytes(json, kConfig);
  const std::string weights = dir.File("weights.h5");
  {
    H5Builder b(weights);
    b.VarStrings("/", "layer_names", {"d"});
    b.VarStrings("/", "keras_version", {"2.2.4"}, false, true);
    b.VarStrings("/", "backend", {"tensorflow"}, false, true);
  }
  ReadOptions options;
  options.weights_path = weights;
  auto file = ReadModelFile(json, options);
  ASSERT_TRUE(file.ok()) << Describe(file);
  ASSERT_NE(file->weights, nullptr);
  EXPECT_EQ(file->keras_version, "2.2.4");
  EXPECT_EQ(file->backend, "tensorflow");

  // A bad weights file is named in the error, not the architecture.
  const std::string not_weights = dir.File("not_weights.bin");
  testing::WriteBytes(not_weights, "garbage");
  options.weights_path = not_weights;
  auto bad = ReadModelFile(json, options);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().Describe(), not_weights + ": not an HDF5 file");
}

TEST(ModelFileTest, DoubleEncodedJson) {
  TempDir dir;
  const std::string path = dir.File("double.json");
  testing::WriteBytes(path, Json(std::string(kConfig)).dump());
  auto file = ReadModelFile(path, {});
  ASSERT_TRUE(file.ok()) << Describe(file);
  EXPECT_EQ(file->model["config"]["name"], "s");
}

TEST(ModelFileTest, EmptyFile) {
  TempDir dir;
  const std::string path = dir.File("empty.h5");
  testing::WriteBytes(path, "");
  EXPECT_EQ(Describe(ReadModelFile(path, {})), path + ": the file is empty");
}

TEST(ModelFileTest, MissingFileAndDirectory) {
  TempDir dir;
  const std::string missing = dir.File("missing.h5");
  EXPECT_EQ(Describe(ReadModelFile(missing, {})), missing + ": no such file");
  const std::string directory = dir.path().string();
  EXPECT_EQ(Describe(ReadModelFile(directory, {})),
            directory + ": is a directory; expected a Keras model file");
}

TEST(ModelFileTest, DirectoriesThatAreModelsOfOtherKinds) {
  TempDir dir;
  const std::filesystem::path saved_model = dir.path() / "saved_model";
  std::filesystem::create_directories(saved_model / "variables");
  testing::WriteBytes((saved_model / "saved_model.pb").string(), "pb");
  EXPECT_EQ(Describe(ReadModelFile(saved_model.string(), {})),
            saved_model.string() + ": is a TensorFlow SavedModel directory, which keras2torch "
                                   "does not read; load it in Keras and save it as .keras or .h5");

}

// keras.saving.save_model(..., zipped=False): config.json, metadata.json and
// model.weights.h5 as files of a directory.
TEST(ModelFileTest, UnzippedKerasDirectory) {
  TempDir dir;
  const std::filesystem::path unzipped = dir.path() / "model_dir";
  std::filesystem::create_directories(unzipped);
  testing::WriteBytes((unzipped / "config.json").string(), kConfig);
  testing::WriteBytes((unzipped / "metadata.json").string(), R"({"keras_version": "3.9.0"})");
  auto file = ReadModelFile(unzipped.string(), {});
  ASSERT_TRUE(file.ok()) << Describe(file);
  EXPECT_EQ(file->format, FileFormat::kKerasZip);
  EXPECT_EQ(file->keras_version, "3.9.0");
  EXPECT_EQ(file->path, unzipped.string());
  EXPECT_EQ(file->weights, nullptr);

  testing::WriteBytes((unzipped / "model.weights.h5").string(), "not hdf5");
  const std::string weights = (unzipped / "model.weights.h5").string();
  const std::string error = Describe(ReadModelFile(unzipped.string(), {}));
  EXPECT_EQ(error.rfind(weights + ": ", 0), 0u) << error;

  std::filesystem::rename(unzipped / "model.weights.h5", unzipped / "model.weights.npz");
  EXPECT_EQ(Describe(ReadModelFile(unzipped.string(), {})),
            unzipped.string() + ": the weights are stored as model.weights.npz, which may hold "
                                "pickled Python objects and is never read by keras2torch; save "
                                "the model again with the default weights format "
                                "(model.weights.h5)");
}

TEST(ModelFileTest, NeighbouringJsonFormats) {
  TempDir dir;
  const std::string tfjs = dir.File("model.json");
  testing::WriteBytes(
      tfjs, R"({"format": "layers-model", "modelTopology": {}, "weightsManifest": []})");
  EXPECT_EQ(Describe(ReadModelFile(tfjs, {})),
            tfjs + ": modelTopology is not a Keras model (no class_name and config)");
  testing::WriteBytes(
      tfjs, R"({"format": "graph-model", "modelTopology": {"node": []}, "weightsManifest": []})");
  EXPECT_EQ(Describe(ReadModelFile(tfjs, {})),
            tfjs + ": the JSON is a TensorFlow.js graph model, a TensorFlow graph and not a "
                   "Keras model, which keras2torch does not read");
  const std::string index = dir.File("model.weights.json");
  testing::WriteBytes(index, R"({"metadata": {"total_size": 4}, "weight_map": {}})");
  EXPECT_EQ(Describe(ReadModelFile(index, {})),
            index + ": the JSON is the index of sharded Keras weights; convert the model's "
                    "architecture (JSON or .keras) and pass this file with --weights");
}

TEST(ModelFileTest, NotAModelFile) {
  TempDir dir;
  const std::string text = dir.File("notes.txt");
  testing::WriteBytes(text, "hello world, this is text\n");
  EXPECT_EQ(Describe(ReadModelFile(text, {})),
            text + ": not a Keras model file (it starts with \"hello world, thi\"); expected an "
                   "HDF5 file, a .keras zip archive or a JSON architecture");

  const std::string png = dir.File("image.h5");
  testing::WriteBytes(png, std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
  EXPECT_EQ(Describe(ReadModelFile(png, {})),
            png + ": not a Keras model file (it starts with bytes 89 50 4e 47 0d 0a 1a 0a); "
                  "expected an HDF5 file, a .keras zip archive or a JSON architecture");

  const std::string random = dir.File("random.keras");
  testing::WriteBytes(random, std::string("\x01\xfe\x7f\x00\x33\x99\xaa\x10\x20", 9));
  EXPECT_EQ(Describe(ReadModelFile(random, {})),
            random + ": not a Keras model file (it starts with bytes 01 fe 7f 00 33 99 aa 10); "
                     "expected an HDF5 file, a .keras zip archive or a JSON architecture");
}

TEST(ModelFileTest, JsonThatIsNotAModel) {
  TempDir dir;
  const std::string object = dir.File("object.json");
  testing::WriteBytes(object, R"({"weights": [1, 2, 3]})");
  EXPECT_EQ(Describe(ReadModelFile(object, {})),
            object + ": the JSON is not a Keras model (no class_name and config at the top)");

  const std::string list = dir.File("list.json");
  testing::WriteBytes(list, "[1, 2, 3]");
  EXPECT_EQ(Describe(ReadModelFile(list, {})),
            list + ": the JSON is not a Keras model (no class_name and config at the top)");

  const std::string broken = dir.File("broken.json");
  testing::WriteBytes(broken, R"({"class_name": "Sequential", "config": )");
  EXPECT_EQ(Describe(ReadModelFile(broken, {})),
            broken + ": the JSON text is not valid JSON (error at byte 40)");
}

TEST(ModelFileTest, HdfFiveWithoutModelConfig) {
  TempDir dir;
  const std::string weights_only = dir.File("weights_only.h5");
  {
    H5Builder b(weights_only);
    b.VarStrings("/", "layer_names", {"dense"});
  }
  EXPECT_EQ(Describe(ReadModelFile(weights_only, {})),
            weights_only + ": this file holds only weights; convert the model's architecture "
                           "JSON and pass this file with --weights");

  const std::string v3_weights = dir.File("model.weights.h5");
  {
    H5Builder b(v3_weights);
    b.V3Vars("layers/dense", {{2}});
  }
  EXPECT_EQ(Describe(ReadModelFile(v3_weights, {})),
            v3_weights + ": this file holds only weights; convert the model's architecture "
                         "JSON and pass this file with --weights");

  const std::string other = dir.File("other.h5");
  {
    H5Builder b(other);
    b.Floats("data", {3}, {1, 2, 3});
  }
  EXPECT_EQ(Describe(ReadModelFile(other, {})),
            other + ": not a Keras model file: the HDF5 file has no model_config attribute");

  const std::string bad_config = dir.File("bad_config.h5");
  {
    H5Builder b(bad_config);
    b.VarStrings("/", "model_config", {"{not json"}, true, true);
  }
  EXPECT_EQ(Describe(ReadModelFile(bad_config, {})),
            bad_config + ": attribute model_config: the JSON text is not valid JSON (error at "
                         "byte 3)");
}

TEST(ModelFileTest, KerasZipProblems) {
  TempDir dir;
  const std::string no_config = dir.File("no_config.keras");
  WriteZip(no_config, {{"metadata.json", "{}"}, {"model.weights.h5", V3WeightsImage(dir)}});
  EXPECT_EQ(Describe(ReadModelFile(no_config, {})),
            no_config + ": the zip archive has no config.json, so it is not a .keras model");

  const std::string npz = dir.File("npz.keras");
  WriteZip(npz, {{"metadata.json", "{}"}, {"config.json", kConfig}, {"model.weights.npz", "x"}});
  EXPECT_EQ(Describe(ReadModelFile(npz, {})),
            npz + ": the weights are stored as model.weights.npz, which may hold pickled Python "
                  "objects and is never read by keras2torch; save the model again with the "
                  "default weights format (model.weights.h5)");

  const std::string bad_json = dir.File("bad_json.keras");
  WriteZip(bad_json, {{"config.json", "{"}});
  EXPECT_EQ(Describe(ReadModelFile(bad_json, {})),
            bad_json + ": config.json: the JSON text is not valid JSON (error at byte 2)");

  const std::string bad_weights = dir.File("bad_weights.keras");
  WriteZip(bad_weights, {{"config.json", kConfig}, {"model.weights.h5", "not hdf5"}});
  EXPECT_EQ(Describe(ReadModelFile(bad_weights, {})),
            bad_weights + ": model.weights.h5: not an HDF5 file");

  const std::string truncated_weights = dir.File("truncated_weights.keras");
  const std::string image = V3WeightsImage(dir);
  WriteZip(truncated_weights,
           {{"config.json", kConfig}, {"model.weights.h5", image.substr(0, 600)}});
  EXPECT_EQ(Describe(ReadModelFile(truncated_weights, {})),
            fmt::format("{}: model.weights.h5: the HDF5 file is truncated: it has 600 bytes, its "
                        "header records {}",
                        truncated_weights, image.size()));
}

}  // namespace
}  // namespace k2t
