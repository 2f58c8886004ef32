//===- passes/bind_weights.cc - Each layer's weights, found and checked -----===//
//
// Converters declare the variables a layer owns and their shapes (from the
// config and the inferred input shapes). This pass finds them in the file and
// checks every shape, so that a config and weights that disagree fail here
// with both shapes named, not later inside PyTorch.
//
// Legacy files: by layer group name (falling back to Keras's own positional
// matching over layers that have weights); inside a nested model's group, by
// the sub-layer name embedded in each weight name. v3 files: by the attribute
// path Keras computes from class names, checked against the stored layer name.
//
//===----------------------------------------------------------------------===//
#include <map>

#include "passes/conversion.h"
#include "readers/legacy_weights.h"
#include "support/strings.h"

namespace k2t::passes {
namespace {

std::vector<std::string> NameComponents(const std::string& weight_name) {
  std::string name = weight_name;
  const auto colon = name.rfind(':');
  if (colon != std::string::npos) name = name.substr(0, colon);
  return Split(name, '/');
}

// The weights of sub-layer `sublayer` among a nested model's flattened list.
std::vector<WeightRef> SublayerWeights(const std::vector<WeightRef>& all,
                                       const std::string& sublayer) {
  std::vector<WeightRef> out;
  for (const WeightRef& ref : all) {
    const auto parts = NameComponents(ref.name);
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      if (parts[i] == sublayer) {
        out.push_back(ref);
        break;
      }
    }
  }
  return out;
}

// A size of -1 in the expected shape (an input size the config does not
// record) matches any size.
bool ShapeMatches(const Shape& expected, const Shape& found) {
  if (expected.size() != found.size()) return false;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (expected[i] >= 0 && expected[i] != found[i]) return false;
  }
  return true;
}

Status CheckShapes(const std::vector<layers::WeightSpec>& specs,
                   const std::vector<WeightRef>& found) {
  if (specs.size() != found.size()) {
    std::vector<std::string> names;
    for (const auto& ref : found) names.push_back(PrintableText(ref.name));
    return MakeError("the file has {} weight(s) for this layer [{}] but its config needs {}",
                     found.size(), Join(names, ", "), specs.size());
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].any_shape || ShapeMatches(specs[i].shape, found[i].shape)) continue;
    return MakeError("weight '{}' has shape {} in the file, but the config implies {}",
                     specs[i].name, FormatList(found[i].shape), FormatList(specs[i].shape));
  }
  return Status::Ok();
}

class Binder {
 public:
  explicit Binder(Conversion& conversion) : c_(conversion), source_(*conversion.file->weights) {}

  Status Run();

 private:
  Expected<std::vector<WeightRef>> Legacy(const ir::Layer& layer, std::size_t expected);
  Expected<std::vector<WeightRef>> V3(const ir::Layer& layer,
                                      const std::vector<layers::WeightSpec>& specs, bool all);
  Status PreparePositional();
  Status PrepareKeras0();

  Conversion& c_;
  const WeightSource& source_;
  std::map<std::string, std::vector<WeightRef>> legacy_groups_;
  std::vector<std::string> file_layers_;
  std::map<std::string, std::string> positional_;  // config layer -> file layer group
};

Status Binder::PreparePositional() {
  // Keras's default loader pairs layers that have weights, in order.
  K2T_ASSIGN_OR_RETURN(file_layers_, source_.LayerNames());
  std::vector<std::string> weighted_file;
  for (const std::string& name : file_layers_) {
    auto weights = source_.LayerWeights(name);
    if (!weights.ok()) return std::move(weights).error();
    if (!weights->empty()) weighted_file.push_back(name);
    legacy_groups_[name] = std::move(*weights);
  }
  std::vector<std::string> weighted_config;
  std::set<std::string> seen;
  for (const ir::Layer& layer : c_.graph.layers) {
    const std::string group = layer.legacy_group;
    if (seen.count(group)) continue;
    const auto id = static_cast<std::size_t>(layer.id);
    const bool has_weights = !c_.weight_specs[id].empty() ||
                             (c_.converters[id] && c_.converters[id]->TakesAllWeights());
    if (has_weights || !layer.legacy_sublayer.empty()) {
      // A nested model's group holds weights if any of its layers has some.
      if (layer.legacy_sublayer.empty() || has_weights) {
        weighted_config.push_back(group);
        seen.insert(group);
      }
    }
  }
  if (weighted_config.size() == weighted_file.size()) {
    for (std::size_t i = 0; i < weighted_config.size(); ++i) {
      positional_[weighted_config[i]] = weighted_file[i];
    }
  }
  return Status::Ok();
}

Status Binder::PrepareKeras0() {
  // Keras 1 loaded a Keras 0.x file into a model with exactly as many layers,
  // weighted or not, pairing them by position (Container.load_weights).
  K2T_ASSIGN_OR_RETURN(file_layers_, source_.LayerNames());
  std::vector<std::string> config_layers;
  for (const config::LayerSpec& spec : c_.model.model.layers) {
    if (spec.class_name != "InputLayer") config_layers.push_back(spec.name);
  }
  if (config_layers.size() != file_layers_.size()) {
    return MakeError("the Keras 0.x weights file holds {} layers (nb_layers) but the model has {} "
                     "(its input layer not counted); Keras matched such files to layers by "
                     "position, so the counts must agree",
                     file_layers_.size(), config_layers.size());
  }
  for (std::size_t i = 0; i < config_layers.size(); ++i) {
    K2T_ASSIGN_OR_RETURN(legacy_groups_[file_layers_[i]], source_.LayerWeights(file_layers_[i]));
    positional_[config_layers[i]] = file_layers_[i];
  }
  return Status::Ok();
}

Expected<std::vector<WeightRef>> Binder::Legacy(const ir::Layer& layer, std::size_t expected) {
  std::string group = layer.legacy_group;
  if (source_.keras0() || !legacy_groups_.count(group)) {
    const auto it = positional_.find(group);
    if (it == positional_.end()) {
      if (expected == 0) return std::vector<WeightRef>{};
      return MakeError("the weights file has no weights for this layer (no group '{}')",
                       PrintableText(group));
    }
    group = it->second;
  }
  const std::vector<WeightRef>& all = legacy_groups_[group];
  if (layer.legacy_sublayer.empty()) return all;
  return SublayerWeights(all, layer.legacy_sublayer);
}

Expected<std::vector<WeightRef>> Binder::V3(const ir::Layer& layer,
                                            const std::vector<layers::WeightSpec>& specs,
                                            bool all) {
  std::string path = layer.v3_path;
  // Keras 3.6+ stores the layer name on each group; trust it over our path.
  const auto stored = source_.VarsName(path);
  if (stored && *stored != layer.name) {
    return MakeError("the weights group '{}' belongs to layer '{}', not to this layer; the "
                     "config and weights file do not match",
                     path, PrintableText(*stored));
  }
  if (all) return source_.Vars(path);
  std::vector<WeightRef> out;
  std::map<std::string, std::vector<WeightRef>> by_owner;
  std::map<std::string, std::size_t> next;
  for (const layers::WeightSpec& spec : specs) {
    const std::string owner_path = spec.owner.empty() ? path : path + "/" + spec.owner;
    if (!by_owner.count(spec.owner)) {
      K2T_ASSIGN_OR_RETURN(by_owner[spec.owner], source_.Vars(owner_path));
    }
    const auto& vars = by_owner[spec.owner];
    const std::size_t index = next[spec.owner]++;
    if (index >= vars.size()) {
      return MakeError("weight '{}' is missing from the file (group '{}/vars' has {} "
                       "variable(s))",
                       spec.name, owner_path, vars.size());
    }
    out.push_back(vars[index]);
  }
  for (const auto& [owner, vars] : by_owner) {
    if (vars.size() > next[owner]) {
      return MakeError("the file has {} weight(s) in '{}/vars' but the config needs {}",
                       vars.size(), owner.empty() ? path : path + "/" + owner, next[owner]);
    }
  }
  return out;
}

Status Binder::Run() {
  const bool legacy = source_.layout() == WeightLayout::kLegacy;
  // A Keras 0.x file holds Keras 1 layouts whatever the architecture's version.
  const bool keras0 = source_.keras0();
  const bool keras1 = c_.model.keras.major == 1 || keras0;
  const bool theano = c_.model.keras.backend == "theano";
  if (keras0) {
    K2T_RETURN_IF_ERROR(PrepareKeras0());
  } else if (legacy) {
    K2T_RETURN_IF_ERROR(PreparePositional());
  }

  for (const ir::Layer& layer : c_.graph.layers) {
    const auto id = static_cast<std::size_t>(layer.id);
    if (layer.nodes.empty()) continue;
    const layers::Converter* converter = c_.converters[id];
    const bool all = converter->TakesAllWeights();
    const auto& specs = c_.weight_specs[id];
    if (specs.empty() && !all) {
      // Paired by position, a weightless layer must meet an empty group:
      // otherwise the file and the model disagree, and its arrays would go unused.
      const auto group = keras0 ? positional_.find(layer.legacy_group) : positional_.end();
      if (group != positional_.end() && !legacy_groups_[group->second].empty()) {
        return AtLayer(MakeError("the Keras 0.x weights file holds {} array(s) in '{}' for this "
                                 "layer, which has no weights; the file was saved from another "
                                 "model",
                                 legacy_groups_[group->second].size(),
                                 PrintableText(group->second)),
                       layer);
      }
      continue;
    }

    auto found = legacy ? Legacy(layer, specs.size()) : V3(layer, specs, all);
    if (!found.ok()) return AtLayer(std::move(found).error(), layer);
    if (legacy && !all) {
      // Keras 1 layouts and Theano kernels, converted as Keras 2 loaded them.
      LegacyWeightsContext context{keras1, theano || (keras1 && LooksTheanoNamed(*found))};
      // Its names are param_0, ...: they say nothing of the backend either.
      if (keras0) context = {true, false, true};
      found = PreprocessLegacyWeights(layer.class_name, layer.config(), context,
                                      std::move(*found));
      if (!found.ok()) return AtLayer(std::move(found).error(), layer);
    }
    if (!all) {
      auto status = CheckShapes(specs, *found);
      if (!status.ok()) return AtLayer(std::move(status).error(), layer);
    }
    c_.weights[id] = std::move(*found);
  }
  return Status::Ok();
}

}  // namespace

Status BindWeights(Conversion& conversion) {
  ir::Graph& graph = conversion.graph;
  conversion.weight_specs.assign(graph.layers.size(), {});
  conversion.weights.assign(graph.layers.size(), {});

  bool any_weights = false;
  for (const ir::Layer& layer : graph.layers) {
    if (layer.nodes.empty()) continue;
    const ir::Node& first = graph.nodes[static_cast<std::size_t>(layer.nodes[0])];
    const layers::Converter& converter = conversion.ConverterOf(first);
    auto specs = converter.Weights(conversion.Context(first));
    if (!specs.ok()) return AtLayer(std::move(specs).error(), layer);
    any_weights = any_weights || !specs->empty() || converter.TakesAllWeights();
    conversion.weight_specs[static_cast<std::size_t>(layer.id)] = std::move(*specs);
  }
  if (!any_weights) return Status::Ok();
  if (!conversion.file->weights) {
    for (const ir::Layer& layer : graph.layers) {
      if (!conversion.weight_specs[static_cast<std::size_t>(layer.id)].empty()) {
        return AtLayer(MakeError("the file has no weights for this layer; a JSON architecture "
                                 "needs its weights file given with --weights"),
                       layer);
      }
    }
    return Status::Ok();
  }
  Binder binder(conversion);
  return binder.Run();
}

}  // namespace k2t::passes
