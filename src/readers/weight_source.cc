//===- readers/weight_source.cc - Lazy access to the tensors of a model -----===//
#include "readers/weight_source.h"

#include <algorithm>
#include <cstdlib>

#include "readers/hdf5.h"
#include "readers/hdf5_weights.h"
#include "readers/legacy_weights.h"
#include "support/strings.h"

namespace k2t {
namespace {

std::string V3Path(const std::string& path, const std::string& leaf) {
  if (path.empty()) return leaf;
  return path + "/" + leaf;
}

// Weights in one HDF5 file, in either layout.
class Hdf5WeightSource final : public WeightSource {
 public:
  Hdf5WeightSource(h5::File file, std::vector<char> image, std::shared_ptr<MappedFile> mapped,
                   const Limits& limits)
      : image_(std::move(image)),
        mapped_(std::move(mapped)),
        file_(std::move(file)),
        limits_(limits) {}

  Status Inspect();

  Expected<std::vector<std::string>> LayerNames() const override;
  Expected<std::vector<WeightRef>> LayerWeights(const std::string& layer_name) const override;
  bool HasGroup(const std::string& path) const override;
  Expected<std::vector<WeightRef>> Vars(const std::string& path) const override;
  Expected<std::vector<std::string>> Children(const std::string& path) const override;
  std::optional<std::string> VarsName(const std::string& path) const override;

 protected:
  Expected<Tensor> ReadStored(const WeightRef& ref) const override;

 private:
  Expected<WeightRef> Describe(const h5::Group& group, const std::string& relative,
                               const std::string& name) const;
  Status InspectKeras0(const h5::Group& root);

  std::vector<char> image_;  // declared before file_: the file may point into it
  std::shared_ptr<MappedFile> mapped_;  // likewise
  h5::File file_;
  std::string weights_root_ = "/";  // "/model_weights" inside a full-model file
  Limits limits_;
  // A Keras 0.x file, described whole when opened (header reads only).
  std::vector<std::string> keras0_names_;
  std::vector<std::vector<WeightRef>> keras0_weights_;
};

Expected<std::unique_ptr<WeightSource>> Inspected(std::unique_ptr<Hdf5WeightSource> source) {
  K2T_RETURN_IF_ERROR(source->Inspect());
  return std::unique_ptr<WeightSource>(std::move(source));
}

}  // namespace

Expected<std::unique_ptr<WeightSource>> WeightSource::OpenFile(const std::string& path,
                                                               const Limits& limits) {
  K2T_ASSIGN_OR_RETURN(h5::File file, h5::File::Open(path));
  return Inspected(std::make_unique<Hdf5WeightSource>(std::move(file), std::vector<char>{},
                                                      nullptr, limits));
}

Expected<std::unique_ptr<WeightSource>> WeightSource::OpenImage(std::vector<char> image,
                                                                const Limits& limits) {
  // The File points into the vector's heap buffer, which moving the vector keeps.
  const void* data = image.data();
  const std::size_t size = image.size();
  K2T_ASSIGN_OR_RETURN(h5::File file, h5::File::OpenImage(data, size));
  return Inspected(
      std::make_unique<Hdf5WeightSource>(std::move(file), std::move(image), nullptr, limits));
}

Expected<std::unique_ptr<WeightSource>> WeightSource::OpenMapped(
    std::shared_ptr<MappedFile> file, ByteRange range, const Limits& limits) {
  K2T_ASSIGN_OR_RETURN(h5::File h5, h5::File::OpenImage(file->data() + range.offset, range.size));
  return Inspected(std::make_unique<Hdf5WeightSource>(std::move(h5), std::vector<char>{},
                                                      std::move(file), limits));
}

Status Hdf5WeightSource::Inspect() {
  K2T_ASSIGN_OR_RETURN(h5::Group root, file_.Root());
  // A full-model file keeps its weights under /model_weights.
  if (root.HasGroup("model_weights")) weights_root_ = "/model_weights";
  K2T_ASSIGN_OR_RETURN(h5::Group weights, file_.Root());
  if (weights_root_ != "/") {
    K2T_ASSIGN_OR_RETURN(weights, root.OpenGroup("model_weights"));
  }

  if (weights.HasAttribute("layer_names") || weights.HasAttribute("layer_names0")) {
    layout_ = WeightLayout::kLegacy;
    if (weights.HasAttribute("keras_version")) {
      K2T_ASSIGN_OR_RETURN(keras_version_, weights.ReadStringAttribute("keras_version"));
    }
    if (weights.HasAttribute("backend")) {
      K2T_ASSIGN_OR_RETURN(backend_, weights.ReadStringAttribute("backend"));
    }
    return Status::Ok();
  }
  if (root.HasGroup("layers") || root.HasGroup("vars") ||
      root.HasGroup("_layer_checkpoint_dependencies")) {
    layout_ = WeightLayout::kV3;
    return Status::Ok();
  }
  if (root.HasAttribute("nb_layers")) return InspectKeras0(root);
  return MakeError("the HDF5 file holds no Keras weights (no layer_names attribute, no "
                   "layers group)");
}

// Keras 0.x save_weights: nb_layers groups layer_K, each with nb_params
// datasets param_I in get_weights() order. Keras 1 read it by position and
// with nothing else in the file, so every group and dataset must be there.
Status Hdf5WeightSource::InspectKeras0(const h5::Group& root) {
  K2T_ASSIGN_OR_RETURN(const std::int64_t layers, root.ReadIntAttribute("nb_layers"));
  if (layers < 0 || layers > limits_.layers) {
    return MakeError("this Keras 0.x weights file declares {} layers (nb_layers), beyond the "
                     "limit of {}",
                     layers, limits_.layers);
  }
  for (std::int64_t k = 0; k < layers; ++k) {
    const std::string name = fmt::format("layer_{}", k);
    if (!root.HasGroup(name)) {
      return MakeError("this Keras 0.x weights file has no group '{}', but its nb_layers is {}",
                       name, layers);
    }
    K2T_ASSIGN_OR_RETURN(h5::Group group, root.OpenGroup(name));
    K2T_ASSIGN_OR_RETURN(const std::int64_t params, group.ReadIntAttribute("nb_params"));
    K2T_ASSIGN_OR_RETURN(const auto children, group.ChildNames());
    if (params < 0 || static_cast<std::size_t>(params) != children.size()) {
      return MakeError("group '{}' of this Keras 0.x weights file holds {} member(s), but its "
                       "nb_params is {}",
                       name, children.size(), params);
    }
    std::vector<WeightRef> refs;
    for (std::int64_t i = 0; i < params; ++i) {
      const std::string param = fmt::format("param_{}", i);
      if (!group.HasDataset(param)) {
        return MakeError("group '{}' of this Keras 0.x weights file has no dataset '{}', but "
                         "its nb_params is {}",
                         name, param, params);
      }
      K2T_ASSIGN_OR_RETURN(WeightRef ref, Describe(group, param, param));
      refs.push_back(std::move(ref));
    }
    keras0_names_.push_back(name);
    keras0_weights_.push_back(std::move(refs));
  }
  layout_ = WeightLayout::kLegacy;
  keras0_ = true;
  return Status::Ok();
}

Expected<std::vector<std::string>> Hdf5WeightSource::LayerNames() const {
  if (keras0_) return keras0_names_;
  K2T_ASSIGN_OR_RETURN(h5::Group root, file_.Root());
  if (weights_root_ == "/") return root.ReadStringListAttribute("layer_names");
  K2T_ASSIGN_OR_RETURN(h5::Group weights, root.OpenGroup(weights_root_.substr(1)));
  return weights.ReadStringListAttribute("layer_names");
}

Expected<WeightRef> Hdf5WeightSource::Describe(const h5::Group& group,
                                               const std::string& relative,
                                               const std::string& name) const {
  K2T_ASSIGN_OR_RETURN(h5::Dataset dataset, group.OpenDataset(relative));
  return DescribeDataset(dataset, name, limits_);
}

Expected<std::vector<WeightRef>> Hdf5WeightSource::LayerWeights(
    const std::string& layer_name) const {
  if (keras0_) {
    const auto it = std::find(keras0_names_.begin(), keras0_names_.end(), layer_name);
    if (it == keras0_names_.end()) {
      return MakeError("the weights file has no group for layer '{}'", PrintableText(layer_name));
    }
    return keras0_weights_[static_cast<std::size_t>(it - keras0_names_.begin())];
  }
  K2T_ASSIGN_OR_RETURN(h5::Group root, file_.Root());
  const std::string group_path =
      weights_root_ == "/" ? layer_name : weights_root_.substr(1) + "/" + layer_name;
  if (!root.HasLink(group_path)) {
    return MakeError("the weights file has no group for layer '{}'", PrintableText(layer_name));
  }
  auto group = root.OpenGroup(group_path);
  if (!group.ok()) {
    return MakeError("the weights of layer '{}' cannot be read: {}", PrintableText(layer_name),
                     group.error().message());
  }
  K2T_ASSIGN_OR_RETURN(auto names, group->ReadStringListAttribute("weight_names"));
  std::vector<WeightRef> refs;
  for (const std::string& name : names) {
    auto ref = Describe(*group, name, name);
    if (!ref.ok()) {
      return MakeError("weight '{}' of layer '{}' cannot be read: {}", PrintableText(name),
                       PrintableText(layer_name), ref.error().message());
    }
    refs.push_back(std::move(*ref));
  }
  return refs;
}

bool Hdf5WeightSource::HasGroup(const std::string& path) const {
  auto root = file_.Root();
  if (!root.ok()) return false;
  return path.empty() || root->HasGroup(path);
}

Expected<std::vector<WeightRef>> Hdf5WeightSource::Vars(const std::string& path) const {
  K2T_ASSIGN_OR_RETURN(h5::Group root, file_.Root());
  const std::string vars_path = V3Path(path, "vars");
  std::vector<WeightRef> refs;
  if (!root.HasGroup(vars_path)) return refs;
  K2T_ASSIGN_OR_RETURN(h5::Group vars, root.OpenGroup(vars_path));
  K2T_ASSIGN_OR_RETURN(auto names, vars.ChildNames());
  // Datasets are named "0", "1", ...; string order would put "10" before "2".
  std::vector<int> indices;
  for (const std::string& name : names) {
    if (!IsVariableIndex(name)) {
      return MakeError("unexpected entry '{}' in weights group '{}'", PrintableText(name),
                       vars_path);
    }
    indices.push_back(std::atoi(name.c_str()));
  }
  std::sort(indices.begin(), indices.end());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] != static_cast<int>(i)) {
      return MakeError("weights group '{}' skips variable {}", vars_path, i);
    }
    K2T_ASSIGN_OR_RETURN(WeightRef ref, Describe(vars, std::to_string(i), std::to_string(i)));
    refs.push_back(std::move(ref));
  }
  return refs;
}

Expected<std::vector<std::string>> Hdf5WeightSource::Children(const std::string& path) const {
  K2T_ASSIGN_OR_RETURN(h5::Group root, file_.Root());
  if (path.empty()) return root.ChildNames();
  K2T_ASSIGN_OR_RETURN(h5::Group group, root.OpenGroup(path));
  return group.ChildNames();
}

std::optional<std::string> Hdf5WeightSource::VarsName(const std::string& path) const {
  auto root = file_.Root();
  if (!root.ok()) return std::nullopt;
  const std::string vars_path = V3Path(path, "vars");
  if (!root->HasGroup(vars_path)) return std::nullopt;
  auto vars = root->OpenGroup(vars_path);
  if (!vars.ok() || !vars->HasAttribute("name")) return std::nullopt;
  auto name = vars->ReadStringAttribute("name");
  if (!name.ok()) return std::nullopt;
  return *name;
}

Expected<Tensor> WeightSource::Read(const WeightRef& ref) const {
  if (ref.derived) return ReadDerived(*this, ref);
  return ReadStored(ref);
}

Expected<Tensor> Hdf5WeightSource::ReadStored(const WeightRef& ref) const {
  K2T_ASSIGN_OR_RETURN(h5::Group root, file_.Root());
  K2T_ASSIGN_OR_RETURN(h5::Dataset dataset, root.OpenDataset(ref.dataset_path.substr(1)));
  auto tensor = ReadDataset(dataset, file_.size(), limits_);
  // The mapped pages read so far are no longer needed: give them back.
  if (mapped_) mapped_->ReleasePages();
  return tensor;
}

bool IsVariableIndex(const std::string& name) {
  return !name.empty() && name.size() < 10 &&
         std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Expected<WeightRef> DescribeDataset(const h5::Dataset& dataset, const std::string& name,
                                    const Limits& limits) {
  WeightRef ref;
  ref.name = name;
  ref.dataset_path = dataset.path();
  K2T_ASSIGN_OR_RETURN(ref.shape, dataset.ReadShape());
  K2T_ASSIGN_OR_RETURN(ref.dtype, dataset.ReadDType());
  K2T_RETURN_IF_ERROR(h5::CheckElementCount(
      fmt::format("dataset '{}'", PrintableText(ref.dataset_path)), ref.shape,
      limits.tensor_elements));
  return ref;
}

Expected<Tensor> ReadDataset(const h5::Dataset& dataset, std::uint64_t file_bytes,
                             const Limits& limits) {
  h5::ReadLimits read;
  read.file_bytes = file_bytes;
  read.ratio = limits.dataset_ratio;
  read.max_elements = limits.tensor_elements;
  return dataset.Read(read);
}

}  // namespace k2t
