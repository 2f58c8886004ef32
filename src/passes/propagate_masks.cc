//===- passes/propagate_masks.cc - Keras masks as explicit tensors ----------===//
//
// Keras attaches a boolean mask (batch, time) to a tensor made by
// Embedding(mask_zero=True) or Masking, carries it through layers that
// support masking, and hands it to the layers that use it (recurrent layers,
// GlobalAveragePooling1D, ...). Here the mask becomes a tensor of its own,
// computed by an inserted node right after its source, and passed to each
// layer that uses it as the tensor argument "mask". Layers that neither pass
// nor use a mask drop it, as Keras does.
//
//===----------------------------------------------------------------------===//
#include <map>
#include <set>

#include "layers/registry.h"
#include "passes/conversion.h"
#include "support/strings.h"

namespace k2t::passes {
namespace {

// Layers whose output keeps the input's mask (Keras: supports_masking with
// the default compute_mask).
const std::set<std::string>& PassesMask() {
  static const std::set<std::string> classes = {
      "Activation", "ActivityRegularization", "AlphaDropout", "BatchNormalization", "Dense",
      "Dropout", "ELU", "GaussianDropout", "GaussianNoise", "GroupNormalization", "Identity",
      "LayerNormalization", "LeakyReLU", "Normalization", "PReLU", "ReLU", "Rescaling",
      "Softmax", "SpatialDropout1D", "ThresholdedReLU", "UnitNormalization", "Masking",
      "TimeDistributed", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
  };
  return classes;
}

bool IsMerge(const ir::Layer& layer) {
  static const std::set<std::string> classes = {"Add", "Subtract", "Multiply", "Average",
                                                "Maximum", "Minimum"};
  return classes.count(layer.class_name) > 0;
}

// Layers that use the mask in their computation.
bool UsesMask(const ir::Layer& layer) {
  static const std::set<std::string> classes = {
      "GlobalAveragePooling1D", "LSTM", "GRU", "SimpleRNN", "Bidirectional", "RNN",
      "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "MultiHeadAttention", "Attention",
      "AdditiveAttention", "TimeDistributed", "Softmax",
  };
  return classes.count(layer.class_name) > 0;
}

// Whether output `index` of the layer keeps the mask. A recurrent layer's
// sequence keeps it, its states never do (Keras: [mask] + [None] * states);
// Bidirectional with merge_mode=None returns two sequences before its states.
bool OutputKeepsMask(const ir::Layer& layer, std::size_t index) {
  static const std::set<std::string> recurrent = {"LSTM", "GRU", "SimpleRNN", "Bidirectional",
                                                  "RNN", "ConvLSTM1D", "ConvLSTM2D",
                                                  "ConvLSTM3D"};
  if (recurrent.count(layer.class_name)) {
    const Json& config = layer.config();
    bool sequences = config.value("return_sequences", false) == true;
    std::size_t count = 1;
    if (layer.class_name == "Bidirectional") {
      // The wrapped layer's config says whether it returns sequences.
      const Json& inner = config.value("layer", Json::object());
      if (inner.is_object() && inner.contains("config") && inner["config"].is_object()) {
        sequences = inner["config"].value("return_sequences", false) == true;
      }
      if (config.value("merge_mode", Json("concat")).is_null()) count = 2;
    }
    return sequences && index < count;
  }
  return PassesMask().count(layer.class_name) > 0;
}

// keras.ops calls that give booleans: Keras 3 records the mask computations
// it hands to a layer as these (not_equal, any, logical_or, ...).
bool GivesBooleans(const std::string& class_name) {
  static const std::set<std::string> classes = {
      "ops.NotEqual", "ops.Equal", "ops.Greater", "ops.GreaterEqual", "ops.Less",
      "ops.LessEqual", "ops.LogicalAnd", "ops.LogicalOr", "ops.LogicalNot", "ops.Any",
      "ops.All",
  };
  // Keras 3's legacy .h5 names them without the module (see layers/ops.cc).
  static const std::set<std::string> bare = {"NotEqual", "LogicalAnd", "LogicalOr",
                                             "LogicalNot", "Any", "All"};
  return classes.count(class_name) > 0 || bare.count(class_name) > 0;
}

// Attention layers read the mask of each input on its own (query, value,
// key): each arrives as the tensor argument "mask@<input>", where <input> is
// the positional index or the keyword of the tensor, and the output keeps the
// query's mask (the first input's).
bool TakesMaskPerInput(const ir::Layer& layer) {
  static const std::set<std::string> classes = {"MultiHeadAttention", "Attention",
                                                "AdditiveAttention"};
  return classes.count(layer.class_name) > 0;
}

// Keras 3's MultiHeadAttention removes the Keras mask from the tensors it is
// given when it runs, so another layer reading one of them sees the mask or
// not depending on Keras's execution order. keras2torch gives it the mask.
void WarnSharedMask(const ir::Graph& graph, const ir::Node& node, int value,
                    std::vector<std::string>& warnings) {
  const ir::Layer& layer = graph.layer_of(node);
  for (int consumer : graph.value(value).consumers) {
    if (consumer == node.id) continue;
    const ir::Layer& other = graph.layer_of(graph.nodes[static_cast<std::size_t>(consumer)]);
    if (!UsesMask(other) && !TakesMaskPerInput(other)) continue;
    warnings.push_back(fmt::format(
        "layer '{}' ({}) and layer '{}' ({}) read the same masked tensor; Keras 3's "
        "MultiHeadAttention removes that mask when it runs, so in Keras the other layer may "
        "run without it; the converted model applies the mask in both",
        PrintableText(layer.QualifiedName()), layer.class_name,
        PrintableText(other.QualifiedName()), other.class_name));
    return;
  }
}

void AttachMasksPerInput(ir::Graph& graph, std::size_t position, std::map<int, int>& mask_of,
                         bool keras3, bool dry, std::set<int>& used,
                         std::vector<std::string>& warnings) {
  const ir::Node node = graph.nodes[position];
  std::vector<std::pair<std::string, int>> slots;
  for (std::size_t i = 0; i < node.inputs.size(); ++i) {
    slots.emplace_back(std::to_string(i), node.inputs[i]);
  }
  for (const auto& [key, value] : node.tensor_kwargs) slots.emplace_back(key, value);
  int query_mask = -1;
  for (const auto& [slot, value] : slots) {
    const auto it = mask_of.find(value);
    if (it == mask_of.end()) continue;
    used.insert(it->second);
    if (slot == "0" || slot == "query") query_mask = it->second;
    if (dry) continue;
    graph.nodes[position].tensor_kwargs.emplace_back("mask@" + slot, it->second);
    graph.value(it->second).consumers.push_back(node.id);
    if (keras3 && graph.layer_of(node).class_name == "MultiHeadAttention") {
      WarnSharedMask(graph, node, value, warnings);
    }
  }
  if (query_mask >= 0 && !node.outputs.empty()) mask_of[node.outputs[0]] = query_mask;
}

// Keras 3 hands a layer the mask of its inputs only when the call has one
// tensor argument (Layer.__call__, "Populate mask argument(s)"): a recurrent
// layer given initial_state runs unmasked, while tf.keras masks it with the
// sequence's mask. A list of tensors (merge layers) is one argument.
bool Keras3PassesNoMask(const ir::Node& node) {
  std::set<std::string> arguments;
  if (node.call && !node.call->list_input) {
    for (std::size_t i = 0; i < node.inputs.size(); ++i) arguments.insert(std::to_string(i));
  } else if (!node.inputs.empty()) {
    arguments.insert("0");
  }
  for (const auto& [key, value] : node.tensor_kwargs) {
    if (key != "mask") arguments.insert(key);
  }
  return arguments.size() > 1;
}

// The internal layer computing the mask a node creates, or null.
Json MaskSource(const ir::Layer& layer) {
  const Json& config = layer.config();
  if (layer.class_name == "Embedding" && config.value("mask_zero", false) == true) {
    return {{"kind", "not_zero"}};
  }
  if (layer.class_name == "Masking") {
    return {{"kind", "masking"}, {"mask_value", config.value("mask_value", Json(0.0))}};
  }
  return Json();
}

// Carries the masks through the graph. With `needed` null it is a dry run
// that changes nothing: a mask is then named by its source's output value,
// and `used` collects the sources some layer reads the mask of. Otherwise
// mask nodes are inserted for the sources in `needed` only, so a mask that
// every layer gets from Keras 3's recorded computations is not computed twice.
Status Propagate(Conversion& c, const std::set<int>* needed, std::set<int>& used) {
  ir::Graph& graph = c.graph;
  const bool dry = needed == nullptr;
  // The dry run sees every mask, also those nobody reads, so it warns.
  std::vector<std::string> repeated;
  std::vector<std::string>& warnings = dry ? c.warnings : repeated;
  std::map<int, int> mask_of;  // value -> mask value (in a dry run: its source's output)
  const bool keras3 = c.model.keras.major >= 3;
  for (std::size_t position = 0; position < graph.nodes.size(); ++position) {
    const ir::Node node = graph.nodes[position];  // a copy: insertion moves nodes
    const ir::Layer& layer = graph.layers[static_cast<std::size_t>(node.layer)];

    if (TakesMaskPerInput(layer)) {
      AttachMasksPerInput(graph, position, mask_of, keras3, dry, used, warnings);
      continue;
    }

    // The masks reaching this call (Keras looks at every tensor input).
    std::set<int> masks;
    bool unmasked_input = false;
    for (int input : node.inputs) {
      const auto it = mask_of.find(input);
      if (it != mask_of.end()) {
        masks.insert(it->second);
      } else {
        unmasked_input = true;
      }
    }
    // Keras 3's merge layers OR their inputs' masks, and give no mask when an
    // input has none; tf.keras ANDs the masks there are.
    if (keras3 && unmasked_input && IsMerge(layer)) masks.clear();
    bool explicit_mask = false;
    for (const auto& [key, value] : node.tensor_kwargs) {
      explicit_mask = explicit_mask || key == "mask";
    }
    if (masks.size() > 1) {
      return AtLayer(MakeError("its inputs carry different masks; combining masks is not "
                               "supported"),
                     layer);
    }
    const int mask = masks.empty() ? -1 : *masks.begin();

    // Keras 3 records `mask=None` where the call's input had no mask when the
    // model was built (MultiHeadAttention removes the masks of its inputs).
    const bool recorded_none = keras3 && node.call && node.call->kwargs.is_object() &&
                               node.call->kwargs.contains("mask") &&
                               node.call->kwargs["mask"].is_null();
    const bool withheld = keras3 && (Keras3PassesNoMask(node) || recorded_none);
    if (mask >= 0 && !explicit_mask && !withheld && UsesMask(layer)) {
      used.insert(mask);
      if (!dry) {
        graph.nodes[position].tensor_kwargs.emplace_back("mask", mask);
        graph.value(mask).consumers.push_back(node.id);
      }
    }
    if (mask >= 0 && !UsesMask(layer) && !PassesMask().count(layer.class_name)) {
      warnings.push_back(fmt::format(
          "layer '{}' ({}) does not support masking; the mask from the layers before it is "
          "dropped, as Keras does",
          PrintableText(layer.QualifiedName()), layer.class_name));
    }
    if (mask >= 0) {
      for (std::size_t i = 0; i < node.outputs.size(); ++i) {
        if (OutputKeepsMask(layer, i)) mask_of[node.outputs[i]] = mask;
      }
    }

    const Json source = MaskSource(layer);
    if (source.is_null() || node.outputs.empty()) continue;
    if (dry) {
      for (int output : node.outputs) mask_of[output] = node.outputs[0];
      continue;
    }
    if (!needed->count(node.outputs[0])) continue;
    config::LayerSpec spec;
    spec.name = layer.name + "_mask";
    spec.class_name = "__ComputeMask";
    spec.config = source;
    const int mask_layer = graph.AddSyntheticLayer(std::move(spec), layer.scope);
    c.converters.push_back(layers::Registry::Get().Find("__ComputeMask"));
    ir::Node compute;
    compute.layer = mask_layer;
    compute.inputs = {node.inputs.at(0)};
    const int value = graph.NewValue(-1, 0, layer.QualifiedName() + "_mask");
    ir::Value& mask_value = graph.value(value);
    const Shape& in = graph.value(node.inputs[0]).shape;
    mask_value.shape = layer.class_name == "Masking" ? Shape(in.begin(), in.end() - 1) : in;
    mask_value.dtype = DType::kBool;
    compute.outputs = {value};
    graph.InsertNode(position + 1, compute);
    for (int output : graph.nodes[position].outputs) mask_of[output] = value;
    ++position;  // the mask node itself has nothing to propagate
  }
  return Status::Ok();
}

}  // namespace

Status PropagateMasks(Conversion& c) {
  // Shape inference calls every computed tensor float32; a recorded mask
  // computation gives booleans, and convert_to_tensor keeps its input's dtype.
  ir::Graph& graph = c.graph;
  for (const ir::Node& node : graph.nodes) {
    const std::string& class_name = graph.layer_of(node).class_name;
    for (int output : node.outputs) {
      if (GivesBooleans(class_name)) graph.value(output).dtype = DType::kBool;
      const bool convert = class_name == "ops.ConvertToTensor" || class_name == "ConvertToTensor";
      if (convert && !node.inputs.empty()) {
        graph.value(output).dtype = graph.value(node.inputs[0]).dtype;
      }
    }
  }
  std::set<int> needed;
  K2T_RETURN_IF_ERROR(Propagate(c, nullptr, needed));
  std::set<int> used;
  return Propagate(c, &needed, used);
}

}  // namespace k2t::passes
