//===- readers/tfjs.cc - TensorFlow.js layers models -------------------------===//
//
// model.json:
//
//   {"format": "layers-model",
//    "modelTopology": {"keras_version": ..., "backend": ..., "model_config": {Keras config}},
//    "weightsManifest": [{"paths": ["group1-shard1of2.bin", ...],
//                         "weights": [{"name": "dense/kernel", "shape": [3, 4],
//                                      "dtype": "float32",
//                                      "quantization": {"dtype": "uint8", "scale": s,
//                                                       "min": m}}, ...]}, ...]}
//
// tfjs-layers' own model.save puts the Keras config itself (class_name,
// config) under modelTopology. Weight names are the Keras 2 ones without
// ":0", so the weights are presented in the legacy layout, one group per
// top-level layer, and bound to layers by the same code as an HDF5 file's.
//
//===----------------------------------------------------------------------===//
#include "readers/tfjs.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "readers/hdf5.h"
#include "support/strings.h"

namespace k2t {
namespace {

// Shards hold little-endian values, copied as they are into tensors.
static_assert(std::endian::native == std::endian::little,
              "reading TensorFlow.js shards assumes a little-endian host");

// How a weight is stored in its shard.
enum class Stored { kF32, kI32, kU8, kU16, kF16 };

std::uint64_t StoredSize(Stored stored) {
  switch (stored) {
    case Stored::kU8: return 1;
    case Stored::kU16:
    case Stored::kF16: return 2;
    case Stored::kF32:
    case Stored::kI32: return 4;
  }
  return 4;
}

struct TfjsWeight {
  std::string name;
  Shape shape;
  DType dtype = DType::kF32;  // what the tensor holds once read (float32 or int32)
  Stored stored = Stored::kF32;
  double scale = 1.0;  // uint8 and uint16: value = q * scale + min
  double min = 0.0;
  std::size_t group = 0;
  std::uint64_t offset = 0;  // into the group's shards, concatenated
  std::uint64_t bytes = 0;
};

struct Shard {
  std::string name;  // as the manifest lists it
  std::string path;
  std::uint64_t size = 0;
};

using ShardGroup = std::vector<Shard>;
// Layer name -> the top-level layer that holds it (itself, for a top-level layer).
using LayerOwners = std::map<std::string, std::string>;

class TfjsWeightSource final : public WeightSource {
 public:
  TfjsWeightSource(std::vector<ShardGroup> groups, std::vector<TfjsWeight> weights,
                   const LayerOwners& owners);

  Expected<std::vector<std::string>> LayerNames() const override { return layer_names_; }
  Expected<std::vector<WeightRef>> LayerWeights(const std::string& layer_name) const override;

  // A TensorFlow.js model has only the legacy layout.
  bool HasGroup(const std::string&) const override { return false; }
  Expected<std::vector<WeightRef>> Vars(const std::string& path) const override {
    return MakeError("a TensorFlow.js model has no weights group '{}'", PrintableText(path));
  }
  Expected<std::vector<std::string>> Children(const std::string&) const override {
    return std::vector<std::string>{};
  }
  std::optional<std::string> VarsName(const std::string&) const override {
    return std::nullopt;
  }

 protected:
  Expected<Tensor> ReadStored(const WeightRef& ref) const override;

 private:
  // Reads the weight's weight.bytes stored bytes into `out`.
  Status ReadBytes(const TfjsWeight& weight, std::byte* out) const;

  std::vector<ShardGroup> groups_;
  std::vector<TfjsWeight> weights_;
  std::map<std::string, std::size_t> index_;  // weight name -> weights_ index
  std::vector<std::string> layer_names_;      // in order of first appearance
  std::map<std::string, std::vector<WeightRef>> by_layer_;
};

// The top-level layer a weight belongs to: the first component of its name
// that is a top-level layer, else the first that is a layer nested in one.
// Keras 3 prefixes a Sequential model's weights with the model's own name
// ("sequential/dense/kernel"); tf.keras names the weights of a nested
// model's layers after the inner layer only ("dense/kernel" for a Dense
// inside Sequential "inner"). `owners` maps every layer name, top-level or
// nested, to the top-level layer whose HDF5 group would hold its weights.
std::string OwnerOf(const std::string& weight_name, const LayerOwners& owners) {
  const std::vector<std::string> parts = Split(weight_name, '/');
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    const auto it = owners.find(parts[i]);
    if (it != owners.end() && it->second == parts[i]) return parts[i];
  }
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    const auto it = owners.find(parts[i]);
    if (it != owners.end()) return it->second;
  }
  return parts.front();
}

TfjsWeightSource::TfjsWeightSource(std::vector<ShardGroup> groups,
                                   std::vector<TfjsWeight> weights,
                                   const LayerOwners& owners)
    : groups_(std::move(groups)), weights_(std::move(weights)) {
  layout_ = WeightLayout::kLegacy;
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    const TfjsWeight& weight = weights_[i];
    index_[weight.name] = i;
    const std::string owner = OwnerOf(weight.name, owners);
    if (!by_layer_.count(owner)) layer_names_.push_back(owner);
    WeightRef ref;
    ref.name = weight.name;
    ref.dataset_path = weight.name;
    ref.shape = weight.shape;
    ref.dtype = weight.dtype;
    by_layer_[owner].push_back(std::move(ref));
  }
}

Expected<std::vector<WeightRef>> TfjsWeightSource::LayerWeights(
    const std::string& layer_name) const {
  const auto it = by_layer_.find(layer_name);
  if (it == by_layer_.end()) {
    return MakeError("the weights manifest has no weights for layer '{}'",
                     PrintableText(layer_name));
  }
  return it->second;
}

Status TfjsWeightSource::ReadBytes(const TfjsWeight& weight, std::byte* out) const {
  std::uint64_t position = weight.offset;  // within the current shard
  std::uint64_t done = 0;
  for (const Shard& shard : groups_[weight.group]) {
    if (done == weight.bytes) break;
    if (position >= shard.size) {
      position -= shard.size;
      continue;
    }
    const std::uint64_t take = std::min(shard.size - position, weight.bytes - done);
    std::ifstream in(shard.path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(position));
    in.read(reinterpret_cast<char*>(out + done), static_cast<std::streamsize>(take));
    if (!in || in.gcount() != static_cast<std::streamsize>(take)) {
      return MakeError("cannot read weight '{}' from shard '{}'", PrintableText(weight.name),
                       PrintableText(shard.name));
    }
    done += take;
    position = 0;
  }
  // Sizes were checked when the model was opened; a shard that shrank since is caught here.
  if (done != weight.bytes) {
    return MakeError("cannot read weight '{}': its shards are shorter than when opened",
                     PrintableText(weight.name));
  }
  return Status::Ok();
}

template <typename Q>
Tensor Dequantize(const std::vector<std::byte>& bytes, const TfjsWeight& weight) {
  Tensor tensor(weight.dtype, weight.shape);
  const auto count = static_cast<std::size_t>(tensor.size());
  // As tensorflowjs's dequantize_weights and tfjs-core: q * scale + min in
  // double precision, then rounded once to the weight's dtype.
  for (std::size_t i = 0; i < count; ++i) {
    Q q;
    std::memcpy(&q, bytes.data() + i * sizeof(Q), sizeof(Q));
    const double value = static_cast<double>(q) * weight.scale + weight.min;
    if (weight.dtype == DType::kI32) {
      tensor.as<std::int32_t>()[i] = static_cast<std::int32_t>(std::nearbyint(value));
    } else {
      tensor.as<float>()[i] = static_cast<float>(value);
    }
  }
  return tensor;
}

Expected<Tensor> TfjsWeightSource::ReadStored(const WeightRef& ref) const {
  const auto it = index_.find(ref.dataset_path);
  if (it == index_.end()) {
    return MakeError("the weights manifest has no weight '{}'", PrintableText(ref.dataset_path));
  }
  const TfjsWeight& weight = weights_[it->second];
  // Stored as the tensor holds it: read in place, with no second copy.
  if (weight.stored == Stored::kF32 || weight.stored == Stored::kI32) {
    Tensor tensor(weight.dtype, weight.shape);
    K2T_RETURN_IF_ERROR(ReadBytes(weight, tensor.data()));
    return tensor;
  }
  if (weight.stored == Stored::kF16) {
    Tensor half(DType::kF16, weight.shape);
    K2T_RETURN_IF_ERROR(ReadBytes(weight, half.data()));
    return half.ToFloat32();
  }
  std::vector<std::byte> bytes(weight.bytes);
  K2T_RETURN_IF_ERROR(ReadBytes(weight, bytes.data()));
  if (weight.stored == Stored::kU8) return Dequantize<std::uint8_t>(bytes, weight);
  return Dequantize<std::uint16_t>(bytes, weight);
}

// ---------------------------------------------------------------------------
// The manifest

std::string StringField(const Json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

// A shard must be a plain file name beside model.json: a manifest from a
// stranger must not make us read other files.
Status CheckShardName(const std::string& name) {
  if (!IsPlainFileName(name)) {
    return MakeError("shard path '{}' is not a file name beside model.json",
                     PrintableText(name));
  }
  return Status::Ok();
}

Expected<ShardGroup> OpenShards(const Json& paths, const std::filesystem::path& directory) {
  if (!paths.is_array()) return MakeError("'paths' is not a list");
  ShardGroup shards;
  for (const Json& entry : paths) {
    if (!entry.is_string()) {
      return MakeError("'paths' holds a {}, not a file name", entry.type_name());
    }
    Shard shard;
    shard.name = entry.get<std::string>();
    K2T_RETURN_IF_ERROR(CheckShardName(shard.name));
    shard.path = (directory / shard.name).string();
    std::error_code code;
    if (!std::filesystem::is_regular_file(shard.path, code)) {
      return MakeError("shard '{}' does not exist", PrintableText(shard.name));
    }
    shard.size = std::filesystem::file_size(shard.path, code);
    if (code) return MakeError("cannot read shard '{}'", PrintableText(shard.name));
    shards.push_back(std::move(shard));
  }
  return shards;
}

Expected<Shape> ParseShape(const Json& shape) {
  if (!shape.is_array()) return MakeError("'shape' is not a list");
  Shape out;
  for (const Json& size : shape) {
    if (!size.is_number_integer() || size.get<std::int64_t>() < 0) {
      return MakeError("'shape' holds {}, not a size", PrintableText(size.dump(), 40));
    }
    out.push_back(size.get<std::int64_t>());
  }
  return out;
}

// dtype and quantization of one manifest entry.
Status ParseStorage(const Json& entry, TfjsWeight& weight) {
  const std::string dtype = StringField(entry, "dtype");
  if (dtype == "float32") {
    weight.dtype = DType::kF32;
    weight.stored = Stored::kF32;
  } else if (dtype == "int32") {
    weight.dtype = DType::kI32;
    weight.stored = Stored::kI32;
  } else {
    return MakeError("dtype '{}' is not supported (expected float32 or int32)",
                     PrintableText(dtype));
  }
  const auto quantization = entry.find("quantization");
  if (quantization == entry.end() || quantization->is_null()) return Status::Ok();
  if (!quantization->is_object()) return MakeError("'quantization' is not an object");

  const std::string stored = StringField(*quantization, "dtype");
  if (stored == "float16") {
    if (weight.dtype != DType::kF32) {
      return MakeError("float16 quantization applies to float32 weights, not {}", dtype);
    }
    weight.stored = Stored::kF16;
    return Status::Ok();
  }
  if (stored != "uint8" && stored != "uint16") {
    return MakeError("quantization dtype '{}' is not supported (expected uint8, uint16 or "
                     "float16)",
                     PrintableText(stored));
  }
  weight.stored = stored == "uint8" ? Stored::kU8 : Stored::kU16;
  for (const char* key : {"scale", "min"}) {
    const auto value = quantization->find(key);
    if (value == quantization->end() || !value->is_number() ||
        !std::isfinite(value->get<double>())) {
      return MakeError("{} quantization without a finite '{}'", stored, key);
    }
  }
  weight.scale = (*quantization)["scale"].get<double>();
  weight.min = (*quantization)["min"].get<double>();
  return Status::Ok();
}

Expected<TfjsWeight> ParseWeight(const Json& entry, const Limits& limits) {
  if (!entry.is_object()) {
    return MakeError("a weight entry is a {}, not an object", entry.type_name());
  }
  TfjsWeight weight;
  weight.name = StringField(entry, "name");
  if (weight.name.empty()) return MakeError("a weight entry has no name");
  auto at_weight = [&](Error error) {
    return MakeError("weight '{}': {}", PrintableText(weight.name), error.message());
  };
  auto shape = ParseShape(entry.contains("shape") ? entry["shape"] : Json());
  if (!shape.ok()) return at_weight(std::move(shape).error());
  weight.shape = std::move(*shape);
  // Shapes are multiplied and allocated later: a hostile one is refused here.
  K2T_RETURN_IF_ERROR(h5::CheckElementCount(
      fmt::format("weight '{}'", PrintableText(weight.name)), weight.shape,
      limits.tensor_elements));
  auto storage = ParseStorage(entry, weight);
  if (!storage.ok()) return at_weight(std::move(storage).error());
  // At most 2^63 elements of at most 4 bytes: the product can overflow only
  // when the element cap was raised near 2^62.
  const auto count = static_cast<std::uint64_t>(ElementCount(weight.shape).value());
  const std::uint64_t size = StoredSize(weight.stored);
  if (count > UINT64_MAX / size) return MakeError("weight '{}' is too large", weight.name);
  weight.bytes = count * size;
  return weight;
}

// One weightsManifest group: its shards and its weights, laid end to end.
Status ReadGroup(const Json& group, std::size_t index, const std::filesystem::path& directory,
                 const Limits& limits, std::vector<ShardGroup>& groups,
                 std::vector<TfjsWeight>& weights) {
  if (!group.is_object()) return MakeError("it is a {}, not an object", group.type_name());
  K2T_ASSIGN_OR_RETURN(ShardGroup shards,
                       OpenShards(group.contains("paths") ? group["paths"] : Json(), directory));
  const auto list = group.find("weights");
  if (list == group.end() || !list->is_array()) return MakeError("'weights' is not a list");

  std::uint64_t needed = 0;
  for (const Json& entry : *list) {
    K2T_ASSIGN_OR_RETURN(TfjsWeight weight, ParseWeight(entry, limits));
    weight.group = index;
    weight.offset = needed;
    if (weight.bytes > UINT64_MAX - needed) return MakeError("the weights are too large");
    needed += weight.bytes;
    weights.push_back(std::move(weight));
  }
  std::uint64_t held = 0;
  std::vector<std::string> names;
  for (const Shard& shard : shards) {
    held = shard.size > UINT64_MAX - held ? UINT64_MAX : held + shard.size;
    names.push_back("'" + PrintableText(shard.name) + "'");
  }
  if (held < needed) {
    return MakeError("the weights need {} bytes but the shards [{}] hold {}", needed,
                     Join(names, ", "), held);
  }
  groups.push_back(std::move(shards));
  return Status::Ok();
}

// Names of layers nested in `object` (a nested model's, a wrapper's), each
// mapped to `owner` unless it is already mapped.
void CollectNested(const Json& object, const std::string& owner,
                   LayerOwners& owners) {
  if (object.is_array()) {
    for (const Json& item : object) CollectNested(item, owner, owners);
    return;
  }
  if (!object.is_object()) return;
  const auto config = object.find("config");
  if (object.contains("class_name") && config != object.end() && config->is_object()) {
    const std::string name = StringField(*config, "name");
    if (!name.empty()) owners.emplace(name, owner);
  }
  for (const auto& [key, value] : object.items()) CollectNested(value, owner, owners);
}

// Every layer name of the model, for OwnerOf.
LayerOwners FindLayerOwners(const Json& model) {
  LayerOwners owners;
  const Json* layers = nullptr;
  if (model.contains("config")) {
    const Json& config = model["config"];
    if (config.is_array()) layers = &config;  // Keras 2.0-2.1 Sequential: a bare list
    if (config.is_object() && config.contains("layers")) layers = &config["layers"];
  }
  if (layers == nullptr || !layers->is_array()) return owners;
  std::vector<std::pair<std::string, const Json*>> top;
  for (const Json& layer : *layers) {
    if (!layer.is_object()) continue;
    std::string name = layer.contains("config") && layer["config"].is_object()
                           ? StringField(layer["config"], "name")
                           : "";
    if (name.empty()) name = StringField(layer, "name");
    if (name.empty()) continue;
    owners[name] = name;
    top.emplace_back(name, &layer);
  }
  for (const auto& [name, layer] : top) CollectNested(*layer, name, owners);
  return owners;
}

Expected<std::unique_ptr<WeightSource>> OpenWeights(const Json& manifest,
                                                    const std::filesystem::path& directory,
                                                    const Json& model, const Limits& limits) {
  if (!manifest.is_array()) return MakeError("weightsManifest is not a list");
  std::vector<ShardGroup> groups;
  std::vector<TfjsWeight> weights;
  for (std::size_t i = 0; i < manifest.size(); ++i) {
    auto status = ReadGroup(manifest[i], i, directory, limits, groups, weights);
    if (!status.ok()) {
      return MakeError("weightsManifest group {}: {}", i + 1, status.error().message());
    }
  }
  std::map<std::string, std::size_t> seen;
  for (const TfjsWeight& weight : weights) {
    if (seen[weight.name]++ == 1) {
      return MakeError("weightsManifest lists weight '{}' twice", PrintableText(weight.name));
    }
  }
  return std::unique_ptr<WeightSource>(
      new TfjsWeightSource(std::move(groups), std::move(weights), FindLayerOwners(model)));
}

bool IsGraphModel(const Json& document) {
  if (StringField(document, "format") == "graph-model") return true;
  const auto topology = document.find("modelTopology");
  return topology != document.end() && topology->is_object() && topology->contains("node");
}

}  // namespace

bool IsTfjsModel(const Json& document) {
  return document.is_object() &&
         (document.contains("modelTopology") || document.contains("weightsManifest"));
}

Expected<ModelFile> ReadTfjsModel(const std::string& path, const Json& document,
                                  const ReadOptions& options) {
  if (IsGraphModel(document)) {
    return MakeError("the JSON is a TensorFlow.js graph model, a TensorFlow graph and not a "
                     "Keras model, which keras2torch does not read");
  }
  const std::string format = StringField(document, "format");
  if (document.contains("format") && format != "layers-model") {
    return MakeError("the TensorFlow.js model has format '{}'; expected 'layers-model'",
                     PrintableText(document["format"].dump(), 40));
  }
  if (!options.weights_path.empty()) {
    return MakeError("--weights cannot be used with a TensorFlow.js model, whose weights are "
                     "the files its weightsManifest lists");
  }
  const auto topology = document.find("modelTopology");
  if (topology == document.end() || !topology->is_object()) {
    return MakeError("the TensorFlow.js model has no modelTopology object");
  }

  ModelFile model;
  model.path = path;
  model.format = FileFormat::kTfjs;
  model.keras_version = StringField(*topology, "keras_version");
  model.backend = StringField(*topology, "backend");
  // tensorflowjs's converter wraps the Keras config in model_config; tfjs-layers does not.
  model.model = topology->contains("model_config") ? (*topology)["model_config"] : *topology;
  if (model.model.is_string()) {
    K2T_ASSIGN_OR_RETURN(model.model, ParseJson(model.model.get<std::string>(), options.json));
  }
  if (!model.model.is_object() || !model.model.contains("class_name") ||
      !model.model.contains("config")) {
    return MakeError("modelTopology is not a Keras model (no class_name and config)");
  }

  const auto manifest = document.find("weightsManifest");
  if (manifest == document.end()) return model;
  const auto directory = std::filesystem::path(path).parent_path();
  K2T_ASSIGN_OR_RETURN(model.weights, OpenWeights(*manifest, directory, model.model,
                                                  options.limits));
  return model;
}

}  // namespace k2t
