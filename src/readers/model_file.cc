//===- readers/model_file.cc - Open any supported Keras model file ----------===//
#include "readers/model_file.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "readers/hdf5.h"
#include "readers/mapped_file.h"
#include "readers/sharded_weights.h"
#include "readers/tfjs.h"
#include "support/strings.h"

namespace k2t {
namespace {

enum class Magic { kHdf5, kZip, kJson, kUnknown, kEmpty, kKerasDirectory };

struct Sniffed {
  Magic magic = Magic::kUnknown;
  std::string head;  // the first bytes, for the message about an unknown format
};

Expected<Sniffed> SniffMagic(const std::string& path) {
  std::error_code code;
  if (!std::filesystem::exists(path, code)) return MakeError("no such file");
  if (std::filesystem::is_directory(path, code)) {
    const std::filesystem::path directory(path);
    if (std::filesystem::exists(directory / "saved_model.pb", code)) {
      return MakeError("is a TensorFlow SavedModel directory, which keras2torch does not read; "
                       "load it in Keras and save it as .keras or .h5");
    }
    if (std::filesystem::exists(directory / "config.json", code)) {
      return Sniffed{Magic::kKerasDirectory, ""};
    }
    return MakeError("is a directory; expected a Keras model file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError("cannot open the file: {}", std::strerror(errno));
  std::array<char, 16> head{};
  in.read(head.data(), head.size());
  const std::streamsize got = in.gcount();
  Sniffed sniffed;
  sniffed.head.assign(head.data(), static_cast<std::size_t>(got));
  if (got == 0) {
    sniffed.magic = Magic::kEmpty;
  } else if (got >= 8 && std::memcmp(head.data(), "\x89HDF\r\n\x1a\n", 8) == 0) {
    sniffed.magic = Magic::kHdf5;
  } else if (got >= 4 && std::memcmp(head.data(), "PK\x03\x04", 4) == 0) {
    sniffed.magic = Magic::kZip;
  } else {
    // JSON: the first non-blank byte opens an object, a list or a string
    // (double-encoded JSON). A UTF-8 byte order mark is allowed before it.
    std::string_view text = sniffed.head;
    if (StartsWith(text, "\xef\xbb\xbf")) text.remove_prefix(3);
    const auto first = text.find_first_not_of(" \n\r\t");
    const bool json = first != std::string_view::npos &&
                      (text[first] == '{' || text[first] == '[' || text[first] == '"');
    sniffed.magic = json || first == std::string_view::npos ? Magic::kJson : Magic::kUnknown;
  }
  return sniffed;
}

// "starts with \x89PNG..." for a message: text as text, anything else as hex.
std::string DescribeHead(const std::string& head) {
  bool text = true;
  for (char c : head) {
    const auto u = static_cast<unsigned char>(c);
    text = text && ((u >= 0x20 && u < 0x7F) || c == '\n' || c == '\r' || c == '\t');
  }
  if (text) return fmt::format("it starts with \"{}\"", PrintableText(head, 16));
  std::string bytes;
  for (std::size_t i = 0; i < head.size() && i < 8; ++i) {
    if (i > 0) bytes += " ";
    bytes += fmt::format("{:02x}", static_cast<unsigned char>(head[i]));
  }
  return "it starts with bytes " + bytes;
}

Expected<std::string> ReadText(const std::string& path, const JsonLimits& limits) {
  std::error_code code;
  const auto size = std::filesystem::file_size(path, code);
  if (code) return MakeError("cannot read the file");
  if (size > limits.max_bytes) {
    return MakeError("the file is {} bytes, more than the JSON limit of {} bytes {}", size,
                     limits.max_bytes, RaiseWith(kJsonBytesFlag));
  }
  std::ifstream in(path, std::ios::binary);
  std::string text(size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (in.gcount() != static_cast<std::streamsize>(size)) return MakeError("cannot read the file");
  return text;
}

// Accepts the JSON of a model and also JSON that was encoded twice (a JSON
// string whose content is the JSON), which users produce with json.dump(to_json()).
Expected<Json> ParseModelJson(std::string_view text, const JsonLimits& limits) {
  K2T_ASSIGN_OR_RETURN(Json parsed, ParseJson(text, limits));
  if (parsed.is_string()) {
    K2T_ASSIGN_OR_RETURN(parsed, ParseJson(parsed.get_ref<const std::string&>(), limits));
  }
  return parsed;
}

Status CheckModelObject(const Json& model) {
  // Neighbouring JSON formats, named so that the message says what the file is.
  if (model.is_object() && model.contains("modelTopology")) {
    return MakeError("the JSON is a TensorFlow.js model.json, which keras2torch reads only as a "
                     "file of its own");
  }
  if (model.is_object() && model.contains("weight_map")) {
    return MakeError("the JSON is the index of sharded Keras weights; convert the model's "
                     "architecture (JSON or .keras) and pass this file with --weights");
  }
  if (!model.is_object() || !model.contains("class_name") || !model.contains("config")) {
    return MakeError("the JSON is not a Keras model (no class_name and config at the top)");
  }
  return Status::Ok();
}

// The file given with --weights: HDF5 weights, or the JSON index of a
// sharded Keras 3 save (told apart by the bytes, like model files).
Expected<std::unique_ptr<WeightSource>> OpenWeightsFile(const std::string& path,
                                                        const ReadOptions& options) {
  auto sniffed = SniffMagic(path);
  auto weights = [&]() -> Expected<std::unique_ptr<WeightSource>> {
    if (!sniffed.ok() || sniffed->magic != Magic::kJson) {
      return WeightSource::OpenFile(path, options.limits);
    }
    K2T_ASSIGN_OR_RETURN(std::string text, ReadText(path, options.json));
    K2T_ASSIGN_OR_RETURN(Json index, ParseJson(text, options.json));
    if (!index.is_object() || !index.contains("weight_map")) {
      return MakeError("the weights file is JSON but not the index of sharded Keras weights "
                       "(no weight_map at the top)");
    }
    return OpenShardedWeights(path, index, options.limits);
  }();
  if (!weights.ok()) return std::move(weights.error().InFile(path));
  return weights;
}

Expected<ModelFile> ReadLegacyH5(const std::string& path, const ReadOptions& options) {
  K2T_ASSIGN_OR_RETURN(h5::File file, h5::File::Open(path));
  K2T_ASSIGN_OR_RETURN(h5::Group root, file.Root());
  if (!root.HasAttribute("model_config")) {
    if (root.HasAttribute("layer_names") || root.HasAttribute("layer_names0") ||
        root.HasGroup("layers") || root.HasGroup("vars")) {
      return MakeError("this file holds only weights; convert the model's architecture JSON "
                       "and pass this file with --weights");
    }
    return MakeError("not a Keras model file: the HDF5 file has no model_config attribute");
  }

  ModelFile model;
  model.path = path;
  model.format = FileFormat::kLegacyH5;
  K2T_ASSIGN_OR_RETURN(std::string config_text, root.ReadStringAttribute("model_config"));
  auto config = ParseModelJson(config_text, options.json);
  if (!config.ok()) return MakeError("attribute model_config: {}", config.error().message());
  model.model = std::move(*config);
  K2T_RETURN_IF_ERROR(CheckModelObject(model.model));
  if (root.HasAttribute("keras_version")) {
    K2T_ASSIGN_OR_RETURN(model.keras_version, root.ReadStringAttribute("keras_version"));
  }
  if (root.HasAttribute("backend")) {
    K2T_ASSIGN_OR_RETURN(model.backend, root.ReadStringAttribute("backend"));
  }

  const std::string weights_path = options.weights_path.empty() ? path : options.weights_path;
  if (!options.weights_path.empty() || root.HasGroup("model_weights")) {
    K2T_ASSIGN_OR_RETURN(model.weights, OpenWeightsFile(weights_path, options));
  }
  if (model.keras_version.empty() && model.weights) {
    model.keras_version = model.weights->keras_version();
  }
  return model;
}

// The weights member read in place when it is stored uncompressed (as Keras
// writes it), so memory stays near one tensor; otherwise unpacked in memory.
Expected<std::unique_ptr<WeightSource>> OpenZippedWeights(const std::string& path,
                                                          const ZipArchive& archive,
                                                          const Limits& limits) {
  auto mapped = MappedFile::Open(path);
  if (mapped.ok()) {
    K2T_ASSIGN_OR_RETURN(auto range,
                         FindStoredZipMember((*mapped)->data(), (*mapped)->size(),
                                             "model.weights.h5"));
    if (range) return WeightSource::OpenMapped(std::move(*mapped), *range, limits);
  }
  K2T_ASSIGN_OR_RETURN(auto image, archive.Read("model.weights.h5"));
  return WeightSource::OpenImage(std::move(image), limits);
}

Expected<ModelFile> ReadKerasZip(const std::string& path, const ReadOptions& options) {
  K2T_ASSIGN_OR_RETURN(ZipArchive archive, ZipArchive::Open(path, options.zip));
  if (!archive.Has("config.json")) {
    return MakeError("the zip archive has no config.json, so it is not a .keras model");
  }

  ModelFile model;
  model.path = path;
  model.format = FileFormat::kKerasZip;
  K2T_ASSIGN_OR_RETURN(auto config_bytes, archive.Read("config.json"));
  auto config = ParseModelJson(std::string_view(config_bytes.data(), config_bytes.size()),
                               options.json);
  if (!config.ok()) return MakeError("config.json: {}", config.error().message());
  model.model = std::move(*config);
  K2T_RETURN_IF_ERROR(CheckModelObject(model.model));

  if (archive.Has("metadata.json")) {
    K2T_ASSIGN_OR_RETURN(auto metadata_bytes, archive.Read("metadata.json"));
    auto metadata = ParseJson(std::string_view(metadata_bytes.data(), metadata_bytes.size()),
                              options.json);
    if (!metadata.ok()) return MakeError("metadata.json: {}", metadata.error().message());
    if (metadata->is_object() && metadata->contains("keras_version") &&
        (*metadata)["keras_version"].is_string()) {
      model.keras_version = (*metadata)["keras_version"].get<std::string>();
    }
  }

  if (!options.weights_path.empty()) {
    K2T_ASSIGN_OR_RETURN(model.weights, OpenWeightsFile(options.weights_path, options));
    return model;
  }
  if (archive.Has("model.weights.npz")) {
    return MakeError("the weights are stored as model.weights.npz, which may hold pickled "
                     "Python objects and is never read by keras2torch; save the model again "
                     "with the default weights format (model.weights.h5)");
  }
  if (archive.Has("model.weights.h5")) {
    auto weights = OpenZippedWeights(path, archive, options.limits);
    if (!weights.ok()) return MakeError("model.weights.h5: {}", weights.error().message());
    model.weights = std::move(*weights);
  }
  return model;
}

Expected<ModelFile> ReadJsonConfig(const std::string& path, const ReadOptions& options) {
  K2T_ASSIGN_OR_RETURN(std::string text, ReadText(path, options.json));
  ModelFile model;
  model.path = path;
  model.format = FileFormat::kJsonConfig;
  K2T_ASSIGN_OR_RETURN(model.model, ParseModelJson(text, options.json));
  if (IsTfjsModel(model.model)) return ReadTfjsModel(path, model.model, options);
  K2T_RETURN_IF_ERROR(CheckModelObject(model.model));
  if (model.model.contains("keras_version") && model.model["keras_version"].is_string()) {
    model.keras_version = model.model["keras_version"].get<std::string>();
  }
  if (model.model.contains("backend") && model.model["backend"].is_string()) {
    model.backend = model.model["backend"].get<std::string>();
  }
  if (!options.weights_path.empty()) {
    K2T_ASSIGN_OR_RETURN(model.weights, OpenWeightsFile(options.weights_path, options));
    if (model.keras_version.empty()) model.keras_version = model.weights->keras_version();
    if (model.backend.empty()) model.backend = model.weights->backend();
  }
  return model;
}

// keras.saving.save_model(model, "dir", zipped=False): the members of a
// .keras archive as files, config.json being the architecture and
// model.weights.h5 its weights.
Expected<ModelFile> ReadKerasDirectory(const std::string& path, const ReadOptions& options) {
  const std::filesystem::path directory(path);
  std::error_code code;
  ReadOptions with_weights = options;
  if (with_weights.weights_path.empty()) {
    if (std::filesystem::exists(directory / "model.weights.npz", code)) {
      return MakeError("the weights are stored as model.weights.npz, which may hold pickled "
                       "Python objects and is never read by keras2torch; save the model again "
                       "with the default weights format (model.weights.h5)");
    }
    if (std::filesystem::exists(directory / "model.weights.h5", code)) {
      with_weights.weights_path = (directory / "model.weights.h5").string();
    }
  }
  const std::string config = (directory / "config.json").string();
  auto model = ReadJsonConfig(config, with_weights);
  if (!model.ok()) return std::move(model.error().InFile(config));
  model->path = path;
  model->format = FileFormat::kKerasZip;
  const std::filesystem::path metadata_path = directory / "metadata.json";
  if (model->keras_version.empty() && std::filesystem::exists(metadata_path, code)) {
    K2T_ASSIGN_OR_RETURN(std::string text, ReadText(metadata_path.string(), options.json));
    auto metadata = ParseJson(text, options.json);
    if (!metadata.ok()) return MakeError("metadata.json: {}", metadata.error().message());
    if (metadata->is_object() && metadata->contains("keras_version") &&
        (*metadata)["keras_version"].is_string()) {
      model->keras_version = (*metadata)["keras_version"].get<std::string>();
    }
  }
  return model;
}

}  // namespace

std::string FormatName(FileFormat format) {
  switch (format) {
    case FileFormat::kLegacyH5: return "HDF5 full model";
    case FileFormat::kKerasZip: return ".keras archive";
    case FileFormat::kJsonConfig: return "JSON architecture";
    case FileFormat::kTfjs: return "TensorFlow.js layers model";
  }
  return "unknown";
}

Expected<ModelFile> ReadModelFile(const std::string& path, const ReadOptions& options) {
  auto read = [&]() -> Expected<ModelFile> {
    K2T_ASSIGN_OR_RETURN(Sniffed sniffed, SniffMagic(path));
    switch (sniffed.magic) {
      case Magic::kHdf5: return ReadLegacyH5(path, options);
      case Magic::kZip: return ReadKerasZip(path, options);
      case Magic::kJson: return ReadJsonConfig(path, options);
      case Magic::kKerasDirectory: return ReadKerasDirectory(path, options);
      case Magic::kEmpty: return MakeError("the file is empty");
      case Magic::kUnknown: break;
    }
    return MakeError("not a Keras model file ({}); expected an HDF5 file, a .keras zip archive "
                     "or a JSON architecture",
                     DescribeHead(sniffed.head));
  };
  auto model = read();
  if (!model.ok()) return std::move(model.error().InFile(path));
  return model;
}

}  // namespace k2t
