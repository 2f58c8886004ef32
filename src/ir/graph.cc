//===- ir/graph.cc - Building the graph of layer calls ----------------------===//
#include "ir/graph.h"

#include <algorithm>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <tuple>

#include "support/strings.h"

namespace k2t::ir {
namespace {

using TensorKey = std::tuple<std::string, int, int>;

class Builder {
 public:
  Builder(Graph& graph, const Limits& limits) : graph_(graph), limits_(limits) {}

  // Adds the nodes of `model` to the graph. `inputs` feed the model's inputs
  // (empty at the top level, where graph inputs are created instead).
  Expected<std::vector<int>> Model(const config::ModelSpec& model, const std::string& scope,
                                   const std::string& legacy_group,
                                   const std::string& v3_path, const std::vector<int>& inputs);

 private:
  int LayerFor(const config::LayerSpec& spec, const std::string& scope,
               const std::string& legacy_group, const std::string& v3_path,
               bool inside_nested);

  Graph& graph_;
  const Limits& limits_;
  std::map<const config::LayerSpec*, int> layer_ids_;
};

// Keras 3 names weight groups by class, counting per class in layer order:
// layers/dense, layers/dense_1, ... A Sequential's list of layers leaves out
// its InputLayer, so the counting starts after it (keras-formats.md §4.4).
std::map<std::string, std::string> V3ChildPaths(const config::ModelSpec& model,
                                                const std::string& model_path) {
  const std::string prefix = model_path.empty() ? "layers/" : model_path + "/layers/";
  std::map<std::string, int> counters;
  std::map<std::string, std::string> paths;
  for (const config::LayerSpec& layer : model.layers) {
    if (model.class_name == "Sequential" && layer.class_name == "InputLayer") continue;
    // keras.ops nodes are not layers: they have no place in the weights file.
    if (StartsWith(layer.class_name, "ops.")) continue;
    const std::string snake = KerasSnakeCase(layer.class_name);
    const int k = counters[snake]++;
    paths[layer.name] = prefix + (k == 0 ? snake : snake + "_" + std::to_string(k));
  }
  return paths;
}

std::string ChildPath(const std::map<std::string, std::string>& paths, const std::string& name) {
  const auto it = paths.find(name);
  return it == paths.end() ? "" : it->second;
}

// One call of a layer in a model, as references name it.
using CallKey = std::pair<std::string, int>;

// The first input of `call` that has not been computed, if any.
std::optional<config::TensorRef> MissingInput(const config::CallSpec& call,
                                              const std::map<TensorKey, int>& produced) {
  for (const auto& ref : call.inputs) {
    if (!produced.count({ref.layer, ref.node, ref.tensor})) return ref;
  }
  for (const auto& [key, ref] : call.tensor_kwargs) {
    if (!produced.count({ref.layer, ref.node, ref.tensor})) return ref;
  }
  return std::nullopt;
}

// Explains why the calls in `waiting` can never run: following each call to
// the call it waits for either comes back round (a cycle, which is named) or
// reaches a tensor that no call produces.
Error StuckError(const std::map<CallKey, const config::LayerSpec*>& waiting,
                 const CallKey& first, const std::map<TensorKey, int>& produced) {
  std::vector<CallKey> path;
  CallKey current = first;
  while (true) {
    const auto seen = std::find(path.begin(), path.end(), current);
    if (seen != path.end()) {
      std::vector<std::string> names;
      for (auto it = seen; it != path.end(); ++it) names.push_back(PrintableText(it->first));
      names.push_back(PrintableText(seen->first));
      const config::LayerSpec* spec = waiting.at(*seen);
      Error error = MakeError("the graph has a cycle: {}", Join(names, " -> "));
      error.AtLayer(spec->name, spec->class_name);
      return error;
    }
    path.push_back(current);
    const config::LayerSpec* spec = waiting.at(current);
    const auto missing =
        MissingInput(spec->calls[static_cast<std::size_t>(current.second)], produced);
    if (!missing) {
      // Every input exists, so the scheduler should have run it: a bug, not bad input.
      Error error = MakeError("internal error: call {} was never scheduled", current.second);
      error.AtLayer(spec->name, spec->class_name);
      return error;
    }
    const CallKey next = {missing->layer, missing->node};
    if (!waiting.count(next)) {
      Error error = MakeError("its input from layer '{}' (call {}, tensor {}) is never computed",
                              PrintableText(missing->layer), missing->node, missing->tensor);
      error.AtLayer(spec->name, spec->class_name);
      return error;
    }
    current = next;
  }
}

// Layers of the model and of every nested model, as the config lists them.
std::int64_t CountLayers(const config::ModelSpec& model) {
  std::int64_t count = 0;
  for (const config::LayerSpec& layer : model.layers) {
    count += layer.model ? 1 + CountLayers(*layer.model) : 1;
  }
  return count;
}

}  // namespace

bool Layout::IsIdentity() const {
  if (features) return false;
  for (std::size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] != static_cast<int>(i)) return false;
  }
  return true;
}

std::vector<int> Layout::Axes(int rank) const {
  if (!perm.empty()) return perm;
  std::vector<int> axes;
  for (int i = 0; i < rank; ++i) axes.push_back(i);
  return axes;
}

bool SameElementOrder(const std::vector<int>& order, const Shape& shape) {
  int last = -1;
  for (int axis : order) {
    if (shape[static_cast<std::size_t>(axis)] == 1) continue;
    if (axis < last) return false;
    last = axis;
  }
  return true;
}

bool Layout::operator==(const Layout& other) const {
  if (IsIdentity() && other.IsIdentity()) return true;
  return perm == other.perm && features == other.features;
}

std::string Layout::Describe() const {
  if (features) return "flattened channels first";
  if (IsIdentity()) return "keras";
  std::vector<std::int64_t> p(perm.begin(), perm.end());
  return "permuted " + FormatList(p);
}

Layout Layout::ChannelsFirst(int rank) {
  Layout layout;
  if (rank < 3) return layout;
  layout.perm.push_back(0);
  layout.perm.push_back(rank - 1);
  for (int i = 1; i < rank - 1; ++i) layout.perm.push_back(i);
  return layout;
}

int Graph::NewValue(int producer, int output_index, const std::string& name) {
  Value value;
  value.id = static_cast<int>(values.size());
  value.producer = producer;
  value.output_index = output_index;
  value.name = name;
  values.push_back(value);
  return value.id;
}

int Builder::LayerFor(const config::LayerSpec& spec, const std::string& scope,
                      const std::string& legacy_group, const std::string& v3_path,
                      bool inside_nested) {
  const auto found = layer_ids_.find(&spec);
  if (found != layer_ids_.end()) return found->second;
  Layer layer;
  layer.id = static_cast<int>(graph_.layers.size());
  layer.name = spec.name;
  layer.scope = scope;
  layer.class_name = spec.class_name;
  layer.spec = &spec;
  layer.legacy_group = inside_nested ? legacy_group : spec.name;
  layer.legacy_sublayer = inside_nested ? spec.name : "";
  layer.v3_path = v3_path;
  graph_.layers.push_back(layer);
  layer_ids_[&spec] = layer.id;
  return layer.id;
}

Expected<std::vector<int>> Builder::Model(const config::ModelSpec& model,
                                          const std::string& scope,
                                          const std::string& legacy_group,
                                          const std::string& v3_path,
                                          const std::vector<int>& inputs) {
  const bool nested = !scope.empty();
  std::map<TensorKey, int> produced;

  const std::map<std::string, std::string> v3_child = V3ChildPaths(model, v3_path);

  // Model inputs: fed by the caller, or new graph inputs at the top level.
  for (std::size_t i = 0; i < model.inputs.size(); ++i) {
    const config::TensorRef& ref = model.inputs[i];
    const config::LayerSpec* spec = model.Find(ref.layer);
    if (!spec || spec->class_name != "InputLayer") {
      return MakeError("model input '{}' is not an InputLayer", PrintableText(ref.layer));
    }
    LayerFor(*spec, scope, legacy_group, ChildPath(v3_child, spec->name), nested);
    int value;
    if (nested) {
      if (i >= inputs.size()) {
        return MakeError("nested model '{}' is called with {} input(s) but has {}",
                         PrintableText(model.name), inputs.size(), model.inputs.size());
      }
      value = inputs[i];
    } else {
      value = graph_.NewValue(-1, 0, spec->name);
      graph_.inputs.push_back(value);
      graph_.input_names.push_back(spec->name);
    }
    produced[{ref.layer, 0, 0}] = value;
  }
  if (nested && inputs.size() != model.inputs.size()) {
    return MakeError("nested model '{}' is called with {} input(s) but has {}",
                     PrintableText(model.name), inputs.size(), model.inputs.size());
  }

  // Process calls as soon as their inputs exist; what never becomes ready is
  // part of a cycle or waits on a tensor nobody produces.
  struct Pending {
    const config::LayerSpec* spec;
    int call;
  };
  std::vector<Pending> pending;
  for (const auto& spec : model.layers) {
    for (std::size_t c = 0; c < spec.calls.size(); ++c) {
      pending.push_back({&spec, static_cast<int>(c)});
    }
  }
  auto ready = [&](const config::CallSpec& call) {
    for (const auto& ref : call.inputs) {
      if (!produced.count({ref.layer, ref.node, ref.tensor})) return false;
    }
    for (const auto& [key, ref] : call.tensor_kwargs) {
      if (!produced.count({ref.layer, ref.node, ref.tensor})) return false;
    }
    return true;
  };
  // Output tensors referenced anywhere, to know how many outputs each call has.
  std::map<std::pair<std::string, int>, int> output_count;
  auto note_ref = [&](const config::TensorRef& ref) {
    int& count = output_count[{ref.layer, ref.node}];
    count = std::max(count, ref.tensor + 1);
  };
  for (const auto& spec : model.layers) {
    for (const auto& call : spec.calls) {
      for (const auto& ref : call.inputs) note_ref(ref);
      for (const auto& [key, ref] : call.tensor_kwargs) note_ref(ref);
    }
  }
  for (const auto& ref : model.outputs) note_ref(ref);
  // The shapes Keras 3 recorded, by tensor; the last one written wins.
  std::map<TensorKey, const config::RecordedShape*> recorded_shapes;
  for (const auto& [ref, shape] : model.recorded_shapes) {
    recorded_shapes[{ref.layer, ref.node, ref.tensor}] = &shape;
  }

  // Calls run in the order of repeated passes over the list, each pass
  // running every call whose inputs exist by then; what never runs is part of
  // a cycle or waits on a tensor nobody produces. Passes are not rescanned:
  // a call's pass follows from the pass of the call that completes its inputs
  // (the same pass if that call comes earlier in the list, else the next),
  // and a heap keyed by (pass, position) replays exactly that order. Hostile
  // list orders would make rescanning quadratic.
  std::map<CallKey, std::size_t> position;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    position[{pending[i].spec->name, pending[i].call}] = i;
  }
  std::vector<int> missing(pending.size(), 0);
  std::vector<int> pass(pending.size(), 1);
  std::vector<std::vector<std::size_t>> waiters(pending.size());
  std::vector<bool> done(pending.size(), false);
  using Slot = std::pair<int, std::size_t>;  // (pass, position)
  std::priority_queue<Slot, std::vector<Slot>, std::greater<Slot>> runnable;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    const config::LayerSpec& spec = *pending[i].spec;
    const config::CallSpec& call = spec.calls[static_cast<std::size_t>(pending[i].call)];
    auto wait_for = [&](const config::TensorRef& ref) {
      if (produced.count({ref.layer, ref.node, ref.tensor})) return;
      ++missing[i];
      const auto producer = position.find({ref.layer, ref.node});
      if (producer != position.end()) waiters[producer->second].push_back(i);
    };
    for (const auto& ref : call.inputs) wait_for(ref);
    for (const auto& [key, ref] : call.tensor_kwargs) wait_for(ref);
    if (missing[i] == 0) runnable.push({1, i});
  }
  auto notify = [&](std::size_t finished) {
    for (std::size_t waiter : waiters[finished]) {
      pass[waiter] = std::max(pass[waiter], pass[finished] + (finished > waiter ? 1 : 0));
      if (--missing[waiter] == 0) runnable.push({pass[waiter], waiter});
    }
  };

  while (!runnable.empty()) {
    const std::size_t index = runnable.top().second;
    runnable.pop();
    const Pending& item = pending[index];
    const config::LayerSpec& spec = *item.spec;
    const config::CallSpec& call = spec.calls[static_cast<std::size_t>(item.call)];
    // A nested model may make fewer outputs than a reference asks for.
    if (!ready(call)) continue;
    done[index] = true;
    std::vector<int> input_values;
    for (const auto& ref : call.inputs) {
      input_values.push_back(produced[{ref.layer, ref.node, ref.tensor}]);
    }

    if (spec.model) {
      // A nested model: inline its graph over these inputs.
      auto outputs = Model(*spec.model, scope + spec.name + "/",
                           nested ? legacy_group : spec.name, ChildPath(v3_child, spec.name),
                           input_values);
      if (!outputs.ok()) return std::move(outputs.error().AtLayer(spec.name, spec.class_name));
      for (std::size_t t = 0; t < outputs->size(); ++t) {
        produced[{spec.name, item.call, static_cast<int>(t)}] = (*outputs)[t];
      }
      notify(index);
      continue;
    }

    // Each call of a nested model inlines its nodes again, so a few
    // kilobytes of config can ask for billions of nodes: count as they come.
    if (static_cast<std::int64_t>(graph_.nodes.size()) >= limits_.nodes) {
      return MakeError("the model makes more layer calls than the limit of {} {}",
                       limits_.nodes, RaiseWith(kNodesFlag));
    }
    const int layer_id =
        LayerFor(spec, scope, legacy_group, ChildPath(v3_child, spec.name), nested);
    Node node;
    node.id = static_cast<int>(graph_.nodes.size());
    node.layer = layer_id;
    node.call_index = item.call;
    node.call = &call;
    node.inputs = input_values;
    for (const auto& [key, ref] : call.tensor_kwargs) {
      node.tensor_kwargs.emplace_back(key, produced[{ref.layer, ref.node, ref.tensor}]);
    }
    const int count = std::max(1, output_count[{spec.name, item.call}]);
    for (int t = 0; t < count; ++t) {
      const int value = graph_.NewValue(node.id, t, scope + spec.name);
      const auto recorded = recorded_shapes.find({spec.name, item.call, t});
      if (recorded != recorded_shapes.end()) {
        graph_.value(value).recorded_shape = *recorded->second;
      }
      node.outputs.push_back(value);
      produced[{spec.name, item.call, t}] = value;
    }
    graph_.layers[static_cast<std::size_t>(layer_id)].nodes.push_back(node.id);
    graph_.nodes.push_back(std::move(node));
    notify(index);
  }
  std::vector<Pending> waiting;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    if (!done[i]) waiting.push_back(pending[i]);
  }
  if (!waiting.empty()) {
    std::map<CallKey, const config::LayerSpec*> stuck;
    for (const Pending& item : waiting) stuck[{item.spec->name, item.call}] = item.spec;
    return StuckError(stuck, {waiting.front().spec->name, waiting.front().call}, produced);
  }

  std::vector<int> outputs;
  for (const auto& ref : model.outputs) {
    const auto it = produced.find({ref.layer, ref.node, ref.tensor});
    if (it == produced.end()) {
      return MakeError("model output '{}' (call {}, tensor {}) is never computed",
                       PrintableText(ref.layer), ref.node, ref.tensor);
    }
    outputs.push_back(it->second);
  }
  return outputs;
}

int Graph::InsertNode(std::size_t position, Node node) {
  node.id = static_cast<int>(position);
  nodes.insert(nodes.begin() + static_cast<long>(position), std::move(node));
  auto renumber = [position](int id) { return id >= static_cast<int>(position) ? id + 1 : id; };
  for (std::size_t i = position + 1; i < nodes.size(); ++i) nodes[i].id = static_cast<int>(i);
  for (Layer& layer : layers) {
    for (int& id : layer.nodes) id = renumber(id);
  }
  for (Value& value : values) {
    if (value.producer >= 0) value.producer = renumber(value.producer);
    for (int& id : value.consumers) id = renumber(id);
  }
  // The inserted node's own references were given in the new numbering.
  Node& inserted = nodes[position];
  layers[static_cast<std::size_t>(inserted.layer)].nodes.push_back(inserted.id);
  for (int output : inserted.outputs) value(output).producer = inserted.id;
  for (int input : inserted.inputs) value(input).consumers.push_back(inserted.id);
  return inserted.id;
}

int Graph::AddSyntheticLayer(config::LayerSpec spec, const std::string& scope) {
  synthetic_specs.push_back(std::move(spec));
  Layer layer;
  layer.id = static_cast<int>(layers.size());
  layer.name = synthetic_specs.back().name;
  layer.scope = scope;
  layer.class_name = synthetic_specs.back().class_name;
  layer.spec = &synthetic_specs.back();
  layers.push_back(layer);
  return layer.id;
}

Expected<Graph> BuildGraph(const config::ModelSpec& model, const Limits& limits) {
  const std::int64_t layers = CountLayers(model);
  if (layers > limits.layers) {
    return MakeError("the model has {} layers, more than the limit of {} {}", layers,
                     limits.layers, RaiseWith(kLayersFlag));
  }
  Graph graph;
  graph.model_name = model.name;
  graph.model_class = model.class_name;
  Builder builder(graph, limits);
  K2T_ASSIGN_OR_RETURN(graph.outputs, builder.Model(model, "", "", "", {}));
  graph.output_names = model.output_names;

  for (const Node& node : graph.nodes) {
    for (int input : node.inputs) graph.value(input).consumers.push_back(node.id);
    for (const auto& [key, input] : node.tensor_kwargs) {
      graph.value(input).consumers.push_back(node.id);
    }
  }
  return graph;
}

}  // namespace k2t::ir
