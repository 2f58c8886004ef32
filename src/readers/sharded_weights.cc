//===- readers/sharded_weights.cc - Keras 3 weights saved in shards --------===//
#include "readers/sharded_weights.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "readers/hdf5.h"
#include "readers/hdf5_weights.h"
#include "support/strings.h"

namespace k2t {
namespace {

// The weight_map key of the variables of the object at `path` ("" for the model).
std::string VarsKey(const std::string& path) {
  if (path.empty()) return "/vars";
  return "/" + path + "/vars";
}

struct Shard {
  std::string name;  // as the index gives it
  std::string path;  // beside the index
};

class ShardedWeightSource final : public WeightSource {
 public:
  ShardedWeightSource(std::string index_path, const Limits& limits)
      : index_path_(std::move(index_path)), limits_(limits) {
    layout_ = WeightLayout::kV3;
  }

  Status ReadIndex(const Json& index);

  Expected<std::vector<std::string>> LayerNames() const override;
  Expected<std::vector<WeightRef>> LayerWeights(const std::string& layer_name) const override;
  bool HasGroup(const std::string& path) const override;
  Expected<std::vector<WeightRef>> Vars(const std::string& path) const override;
  Expected<std::vector<std::string>> Children(const std::string& path) const override;
  std::optional<std::string> VarsName(const std::string& path) const override;

 protected:
  Expected<Tensor> ReadStored(const WeightRef& ref) const override;

 private:
  Expected<std::size_t> AddShard(const std::string& key, const Json& name);
  // The root group of shard `index`, opening it (and closing the previous one) if needed.
  Expected<h5::Group> ShardRoot(std::size_t index) const;
  Status AddShardVars(const std::string& key, std::size_t shard,
                      std::map<int, WeightRef>& found) const;

  std::string index_path_;
  Limits limits_;
  std::vector<Shard> shards_;
  std::map<std::string, std::size_t> shard_by_name_;
  std::map<std::string, std::vector<std::size_t>> weight_map_;  // "/layers/dense/vars" -> shards
  // One shard is open at a time, as in Keras's own reader, so that a save in
  // thousands of shards does not run out of file handles.
  mutable std::optional<std::size_t> open_index_;
  mutable std::optional<h5::File> open_file_;
};

Expected<std::size_t> ShardedWeightSource::AddShard(const std::string& key, const Json& name) {
  if (!name.is_string()) {
    return MakeError("weight_map entry '{}' lists {}, which is not a shard file name",
                     PrintableText(key), Abbreviate(name));
  }
  const auto& text = name.get_ref<const std::string&>();
  // Only a plain name in the index's own directory is read: the index comes
  // from a stranger.
  if (!IsPlainFileName(text)) {
    return MakeError("weight_map entry '{}' names shard '{}', which is not a plain file name; "
                     "shards are read only from the index's directory",
                     PrintableText(key), PrintableText(text));
  }
  const auto known = shard_by_name_.find(text);
  if (known != shard_by_name_.end()) return known->second;

  // Every shard is checked now, so that a missing one is reported before any
  // work is done, whichever layer needs it.
  const std::filesystem::path path = std::filesystem::path(index_path_).parent_path() / text;
  std::error_code code;
  if (!std::filesystem::is_regular_file(path, code)) {
    return MakeError("shard '{}' of weight_map entry '{}' is not in the index's directory",
                     PrintableText(text), PrintableText(key));
  }
  shards_.push_back({text, path.string()});
  shard_by_name_[text] = shards_.size() - 1;
  return shards_.size() - 1;
}

Status ShardedWeightSource::ReadIndex(const Json& index) {
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    return MakeError("the index of sharded weights has no weight_map object");
  }
  for (const auto& [key, value] : index["weight_map"].items()) {
    // Keras writes the HDF5 path of each variables group.
    if (key != "/vars" && !(StartsWith(key, "/") && EndsWith(key, "/vars"))) {
      return MakeError("weight_map entry '{}' is not the path of a variables group "
                       "(such as '/layers/dense/vars')",
                       PrintableText(key));
    }
    // One shard as a string (older writers) or a list of the shards a group spans.
    const bool list = value.is_array() && !value.empty();
    if (!value.is_string() && !list) {
      return MakeError("weight_map entry '{}' is {}, not a shard file name or a list of them",
                       PrintableText(key), Abbreviate(value));
    }
    std::vector<std::size_t>& shards = weight_map_[key];
    for (const Json& name : list ? value : Json::array({value})) {
      K2T_ASSIGN_OR_RETURN(std::size_t shard, AddShard(key, name));
      if (std::find(shards.begin(), shards.end(), shard) == shards.end()) shards.push_back(shard);
    }
  }
  return Status::Ok();
}

Expected<h5::Group> ShardedWeightSource::ShardRoot(std::size_t index) const {
  if (open_index_ != index) {
    open_file_.reset();
    open_index_.reset();
    auto file = h5::File::Open(shards_[index].path);
    if (!file.ok()) return std::move(file.error().InFile(shards_[index].path));
    open_file_.emplace(std::move(*file));
    open_index_ = index;
  }
  auto root = open_file_->Root();
  if (!root.ok()) return std::move(root.error().InFile(shards_[index].path));
  return root;
}

Expected<std::vector<std::string>> ShardedWeightSource::LayerNames() const {
  return MakeError("sharded weights are stored in the Keras 3 layout, which has no layer list");
}

Expected<std::vector<WeightRef>> ShardedWeightSource::LayerWeights(const std::string&) const {
  return MakeError("sharded weights are stored in the Keras 3 layout, which has no layer list");
}

bool ShardedWeightSource::HasGroup(const std::string& path) const {
  if (path.empty()) return true;
  const std::string prefix = "/" + path + "/";
  const auto it = weight_map_.lower_bound(prefix);
  return it != weight_map_.end() && StartsWith(it->first, prefix);
}

Expected<std::vector<std::string>> ShardedWeightSource::Children(const std::string& path) const {
  // The groups that lead to variables, as the index lists them: a shard may
  // also hold empty groups, which hold no weights either way.
  const std::string prefix = path.empty() ? "/" : "/" + path + "/";
  std::set<std::string> children;
  for (auto it = weight_map_.lower_bound(prefix);
       it != weight_map_.end() && StartsWith(it->first, prefix); ++it) {
    const std::string rest = it->first.substr(prefix.size());
    children.insert(rest.substr(0, rest.find('/')));
  }
  return std::vector<std::string>(children.begin(), children.end());
}

Status ShardedWeightSource::AddShardVars(const std::string& key, std::size_t shard,
                                         std::map<int, WeightRef>& found) const {
  const Shard& where = shards_[shard];
  K2T_ASSIGN_OR_RETURN(h5::Group root, ShardRoot(shard));
  const std::string group_path = key.substr(1);
  std::vector<std::string> names;
  std::optional<h5::Group> vars;
  if (root.HasGroup(group_path)) {
    auto group = root.OpenGroup(group_path);
    if (!group.ok()) return std::move(group.error().InFile(where.path));
    auto children = group->ChildNames();
    if (!children.ok()) return std::move(children.error().InFile(where.path));
    names = std::move(*children);
    vars.emplace(std::move(*group));
  }
  // Keras lists a shard for a group only once it has written a variable there.
  if (names.empty()) {
    return MakeError("weight_map sends '{}' to shard '{}', which holds no variables there",
                     PrintableText(key), PrintableText(where.name))
        .InFile(index_path_);
  }

  for (const std::string& name : names) {
    if (!IsVariableIndex(name)) {
      return MakeError("unexpected entry '{}' in weights group '{}'", PrintableText(name),
                       PrintableText(key))
          .InFile(where.path);
    }
    const int index = std::atoi(name.c_str());
    const auto twice = found.find(index);
    if (twice != found.end()) {
      return MakeError("variable {} of '{}' is stored in two shards, '{}' and '{}'", index,
                       PrintableText(key), PrintableText(shards_[twice->second.part].name),
                       PrintableText(where.name))
          .InFile(index_path_);
    }
    auto dataset = vars->OpenDataset(name);
    if (!dataset.ok()) return std::move(dataset.error().InFile(where.path));
    auto ref = DescribeDataset(*dataset, name, limits_);
    if (!ref.ok()) return std::move(ref.error().InFile(where.path));
    ref->part = shard;
    found.emplace(index, std::move(*ref));
  }
  return Status::Ok();
}

Expected<std::vector<WeightRef>> ShardedWeightSource::Vars(const std::string& path) const {
  const std::string key = VarsKey(path);
  std::vector<WeightRef> refs;
  const auto listed = weight_map_.find(key);
  // Not in the index: the object has no variables (Keras lists only groups it wrote to).
  if (listed == weight_map_.end()) return refs;

  std::map<int, WeightRef> found;
  for (std::size_t shard : listed->second) K2T_RETURN_IF_ERROR(AddShardVars(key, shard, found));
  for (auto& [index, ref] : found) {
    if (index != static_cast<int>(refs.size())) {
      return MakeError("weights group '{}' skips variable {} in every shard the index lists "
                       "for it",
                       PrintableText(key), refs.size())
          .InFile(index_path_);
    }
    refs.push_back(std::move(ref));
  }
  return refs;
}

std::optional<std::string> ShardedWeightSource::VarsName(const std::string& path) const {
  // Keras writes the name where it creates the group, which may be a shard
  // that filled up before the first variable: then no name is checked.
  const std::string key = VarsKey(path);
  const auto listed = weight_map_.find(key);
  if (listed == weight_map_.end()) return std::nullopt;
  for (std::size_t shard : listed->second) {
    auto root = ShardRoot(shard);
    if (!root.ok() || !root->HasGroup(key.substr(1))) continue;
    auto vars = root->OpenGroup(key.substr(1));
    if (!vars.ok() || !vars->HasAttribute("name")) continue;
    auto name = vars->ReadStringAttribute("name");
    if (name.ok()) return *name;
  }
  return std::nullopt;
}

Expected<Tensor> ShardedWeightSource::ReadStored(const WeightRef& ref) const {
  const Shard& where = shards_.at(ref.part);
  K2T_ASSIGN_OR_RETURN(h5::Group root, ShardRoot(ref.part));
  auto dataset = root.OpenDataset(ref.dataset_path.substr(1));
  if (!dataset.ok()) return std::move(dataset.error().InFile(where.path));
  auto tensor = ReadDataset(*dataset, open_file_->size(), limits_);
  if (!tensor.ok()) return std::move(tensor.error().InFile(where.path));
  return tensor;
}

}  // namespace

Expected<std::unique_ptr<WeightSource>> OpenShardedWeights(const std::string& index_path,
                                                           const Json& index,
                                                           const Limits& limits) {
  auto source = std::make_unique<ShardedWeightSource>(index_path, limits);
  K2T_RETURN_IF_ERROR(source->ReadIndex(index));
  return std::unique_ptr<WeightSource>(std::move(source));
}

}  // namespace k2t
