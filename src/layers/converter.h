//===- layers/converter.h - What a layer converter knows --------------------===//
//
// One Converter per Keras layer class (grouped by family, one file each). A
// converter answers, for one call of its layer:
//
//   InferShapes  the Keras output shapes from the input shapes
//   Weights      which Keras variables the layer owns, with their shapes
//   PlanLayout   which axis order it wants its inputs in, and gives its outputs
//   Lower        the PyTorch module it becomes and how each weight is transformed
//   EmitCall     the Python expression for one call in `forward`
//
// Layout is decided once, by the planner, from these answers; converters only
// state preferences and read the decision back from the Values.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "config/model_spec.h"
#include "ir/graph.h"
#include "layers/config_reader.h"
#include "readers/weight_source.h"
#include "support/error.h"
#include "support/tensor.h"

namespace k2t::layers {

struct CallContext {
  const ir::Graph& graph;
  const ir::Layer& layer;
  const ir::Node& node;
  const config::KerasInfo& keras;
  // The layer's weights as found in the file, in Keras order, once bound.
  const std::vector<WeightRef>* weights = nullptr;
  // Set by the layout planner when a consumer needs this call's outputs in
  // Keras's own order (a Flatten then flattens channels last).
  bool keras_order_output = false;

  const ir::Value& input(std::size_t i = 0) const {
    return graph.value(node.inputs.at(i));
  }
  const ir::Value& output(std::size_t i = 0) const {
    return graph.value(node.outputs.at(i));
  }
  std::size_t input_count() const { return node.inputs.size(); }
  ConfigReader config() const { return ConfigReader(layer.config()); }
};

// One Keras variable a layer owns, in the order Keras stores them. `owner` is
// the sub-object holding it in a Keras 3 weights file ("" for the layer
// itself, "cell" for recurrent layers, ...).
struct WeightSpec {
  std::string name;  // "kernel", "bias", ...
  Shape shape;       // expected shape; an empty vector with `any_shape` accepts any
  std::string owner;
  bool any_shape = false;
};

// One PyTorch state_dict entry of a lowered layer, computed from Keras
// weights (by index into the layer's WeightSpecs) at write time.
struct Param {
  std::string key;  // relative to the layer's module attribute: "weight", "bias"
  Shape shape;
  DType dtype = DType::kF32;
  std::vector<int> sources;
  std::function<Expected<Tensor>(std::vector<Tensor> sources)> transform;
};

enum class Fidelity { kExact, kApproximate, kSkeleton };

struct Lowering {
  // `self.<attr> = <module>`; empty for layers that need no module.
  std::string module;
  // What the report and `inspect` show: "nn.Conv2d", "F.relu", "identity".
  std::string summary;
  std::vector<std::string> comments;  // written above the module line
  std::vector<Param> params;
  std::vector<std::string> notes;     // for the report: approximations, choices
  Fidelity fidelity = Fidelity::kExact;
  // Python source emitted once before the model class (helpers, skeletons).
  std::vector<std::pair<std::string, std::string>> definitions;  // (name, source)
  // Extra imports needed by the generated code, e.g. "import math".
  std::set<std::string> imports;
  // Files copied beside model.py: (source path, file name).
  std::vector<std::pair<std::string, std::string>> copy_files;
};

// What EmitCall can refer to.
struct EmitContext {
  std::string attr;  // the module attribute ("self.conv2d" is "self." + attr)
  std::vector<std::string> inputs;  // Python expressions, already in the planned layout
  std::vector<std::pair<std::string, std::string>> tensor_kwargs;
  // A fresh local variable name starting with `hint`, for EmitStatements.
  std::function<std::string(const std::string& hint)> temporary;
  std::string self() const { return "self." + attr; }
};

struct LayoutPlan {
  std::vector<ir::Layout> inputs;   // what each input must be converted to
  std::vector<ir::Layout> outputs;  // what the outputs will be
};

class Converter {
 public:
  virtual ~Converter() = default;

  // Config keys this converter reads, beyond those every layer has.
  virtual std::set<std::string> KnownKeys() const { return {}; }

  virtual Expected<std::vector<Shape>> InferShapes(const CallContext& call) const = 0;
  virtual Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const;
  // Default: Keras order in, Keras order out.
  virtual Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                          const std::vector<ir::Layout>& current) const;
  virtual Expected<Lowering> Lower(const CallContext& call) const = 0;
  // Returns the expression for the call's output (a tuple for several outputs).
  virtual Expected<std::string> EmitCall(const CallContext& call,
                                         const EmitContext& emit) const = 0;
  // True when a call takes several statements (a recurrent layer returning
  // its states); EmitStatements then replaces EmitCall.
  virtual bool UsesStatements(const CallContext&) const { return false; }
  // Statements assigning the call's outputs to `targets`.
  virtual Expected<std::vector<std::string>> EmitStatements(
      const CallContext&, const EmitContext&, const std::vector<std::string>& targets) const {
    return MakeError("internal error: no statements for this layer");
  }
  // True when the layer passes its input through unchanged at inference.
  virtual bool IsIdentity(const CallContext&) const { return false; }
  // True when the layer takes whatever weights the file has for it, in order,
  // instead of declaring them (skeletons of custom layers).
  virtual bool TakesAllWeights() const { return false; }
};

// Layout plans that most converters share.
LayoutPlan KerasOrderPlan(const CallContext& call, std::size_t output_count = 1);
// Channels first for spatial layers; `channels_last` from the data_format.
LayoutPlan ChannelsFirstPlan(const CallContext& call, bool channels_last);
// Same layout out as in (element-wise layers); accepts flattened feature orders.
LayoutPlan PassThroughPlan(const CallContext& call, const std::vector<ir::Layout>& current);

// Shapes with the layout applied: the PyTorch shape of a Value.
Shape TorchShape(const ir::Value& value);
// Maps a Keras axis (negative allowed) to the PyTorch axis of a Value.
Expected<int> TorchAxis(const ir::Value& value, int keras_axis);

}  // namespace k2t::layers
