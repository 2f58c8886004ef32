//===- layers/misc.cc - RepeatVector, Identity, and keras.applications' own layers ==//
//
// ConvNeXt defines LayerScale (x * gamma over the channels) and
// StochasticDepth (identity at inference); InceptionResNetV2 defines
// CustomScaleLayer (a + b * scale). They ship with Keras, so they are
// converted like built-in layers.
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include "layers/registry.h"
#include "layers/weights_transform.h"
#include "support/python_text.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

class RepeatVectorConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override { return {"n"}; }
  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(std::int64_t n, call.config().Int("n"));
    const Shape& in = call.input().shape;
    if (in.size() != 2) return MakeError("expects an input of rank 2, found shape {}", FormatShape(in));
    return std::vector<Shape>{{in[0], n, in[1]}};
  }
  Expected<Lowering> Lower(const CallContext&) const override {
    Lowering lowering;
    lowering.summary = "unsqueeze + expand";
    return lowering;
  }
  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(std::int64_t n, call.config().Int("n"));
    return fmt::format("{}.unsqueeze(1).expand(-1, {}, -1)", emit.inputs[0], n);
  }
};

// Identity, and StochasticDepth at inference.
class PassThroughConverter : public Converter {
 public:
  explicit PassThroughConverter(std::set<std::string> keys) : keys_(std::move(keys)) {}
  std::set<std::string> KnownKeys() const override { return keys_; }
  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    return std::vector<Shape>{call.input().shape};
  }
  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    return PassThroughPlan(call, current);
  }
  Expected<Lowering> Lower(const CallContext&) const override {
    Lowering lowering;
    lowering.summary = "identity";
    return lowering;
  }
  Expected<std::string> EmitCall(const CallContext&, const EmitContext& emit) const override {
    return emit.inputs.at(0);
  }
  bool IsIdentity(const CallContext&) const override { return true; }

 private:
  std::set<std::string> keys_;
};

constexpr const char* kLayerScaleSource = R"(class _LayerScale(nn.Module):
    """ConvNeXt's layer scale: x * gamma, gamma shaped to broadcast over the channels."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma
)";

class LayerScaleConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override { return {"init_values", "projection_dim"}; }
  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    return std::vector<Shape>{call.input().shape};
  }
  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(std::int64_t dim, call.config().Int("projection_dim"));
    return std::vector<WeightSpec>{{"gamma", {dim}}};
  }
  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    LayoutPlan plan = PassThroughPlan(call, current);
    if (current[0].features) plan = KerasOrderPlan(call);
    return plan;
  }
  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(std::int64_t dim, call.config().Int("projection_dim"));
    K2T_ASSIGN_OR_RETURN(int channel, TorchAxis(call.input(), -1));
    const int rank = static_cast<int>(call.input().shape.size());
    Shape shape(static_cast<std::size_t>(rank - 1), 1);
    shape[static_cast<std::size_t>(channel - 1)] = dim;
    std::vector<std::string> parts;
    for (auto d : shape) parts.push_back(std::to_string(d));
    Lowering lowering;
    lowering.module = "_LayerScale((" + Join(parts, ", ") + (parts.size() == 1 ? ",))" : "))");
    lowering.summary = "x * gamma";
    lowering.definitions.emplace_back("_LayerScale", kLayerScaleSource);
    Param gamma;
    gamma.key = "gamma";
    gamma.shape = shape;
    gamma.sources = {0};
    gamma.transform = [shape](std::vector<Tensor> s) -> Expected<Tensor> {
      return s[0].Reshape(shape);
    };
    lowering.params.push_back(std::move(gamma));
    return lowering;
  }
  Expected<std::string> EmitCall(const CallContext&, const EmitContext& emit) const override {
    return fmt::format("{}({})", emit.self(), emit.inputs[0]);
  }
};

class CustomScaleConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override { return {"scale"}; }
  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    if (call.input_count() != 2) return MakeError("needs 2 inputs, found {}", call.input_count());
    return std::vector<Shape>{call.input(0).shape};
  }
  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    ir::Layout target = current[0].features ? ir::Layout() : current[0];
    LayoutPlan plan;
    plan.inputs = {target, target};
    plan.outputs = {target};
    return plan;
  }
  Expected<Lowering> Lower(const CallContext&) const override {
    Lowering lowering;
    lowering.summary = "a + b * scale";
    return lowering;
  }
  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(double scale, call.config().Float("scale", 1.0));
    return fmt::format("{} + {} * {}", emit.inputs[0], emit.inputs[1], PythonFloat(scale));
  }
};

}  // namespace

void RegisterMiscLayers(Registry& registry) {
  registry.Add("RepeatVector", std::make_shared<RepeatVectorConverter>());
  registry.Add("Identity", std::make_shared<PassThroughConverter>(std::set<std::string>{}));
  registry.Add("StochasticDepth",
               std::make_shared<PassThroughConverter>(std::set<std::string>{"drop_path_rate"}));
  registry.Add("LayerScale", std::make_shared<LayerScaleConverter>());
  registry.Add("CustomScaleLayer", std::make_shared<CustomScaleConverter>());
}

}  // namespace k2t::layers
