//===- layers/preprocessing.cc - Rescaling, Normalization -------------------===//
#include <fmt/format.h>

#include <algorithm>

#include "layers/registry.h"
#include "layers/weights_transform.h"
#include "support/python_text.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

constexpr const char* kNormalizationSource = R"(class _Normalization(nn.Module):
    """Keras's Normalization layer: (x - mean) / max(sqrt(variance), 1e-7)."""

    def __init__(self, shape: tuple[int, ...], invert: bool) -> None:
        super().__init__()
        self.invert = invert
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("variance", torch.ones(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = torch.clamp(self.variance.sqrt(), min=1e-7)
        return self.mean + x * std if self.invert else (x - self.mean) / std
)";

// Rescaling: x * scale + offset, each a number or one value per channel.
class RescalingConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override { return {"scale", "offset"}; }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_RETURN_IF_ERROR(Value(call, "scale", 1.0));
    K2T_RETURN_IF_ERROR(Value(call, "offset", 0.0));
    return std::vector<Shape>{call.input().shape};
  }
  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    return PassThroughPlan(call, current);
  }
  Expected<Lowering> Lower(const CallContext&) const override {
    Lowering lowering;
    lowering.summary = "x * scale + offset";
    return lowering;
  }
  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(std::string scale, Value(call, "scale", 1.0));
    K2T_ASSIGN_OR_RETURN(std::string offset, Value(call, "offset", 0.0));
    std::string expr = emit.inputs[0];
    if (scale != "1.0") expr = fmt::format("{} * {}", expr, scale);
    if (offset != "0.0") expr = fmt::format("{} + {}", expr, offset);
    return expr;
  }

 private:
  // A Python expression for the value, shaped to broadcast over the last Keras axis.
  static Expected<std::string> Value(const CallContext& call, const std::string& key,
                                     double fallback) {
    const Json* value = &call.config().Raw(key);
    // Keras 3 writes a NumPy array as {"class_name": "__numpy__", "config": {"value": ...}}.
    if (value->is_object() && value->value("class_name", Json()) == "__numpy__") {
      const auto config = value->find("config");
      if (config == value->end() || !config->is_object() || !config->contains("value")) {
        return MakeError("'{}' is a NumPy array without a value: {}", key, Abbreviate(*value));
      }
      value = &config->at("value");
      if (const auto number = NumberValue(*value)) return PythonFloat(*number);
    }
    const Json& raw = *value;
    if (!raw.is_array()) {
      K2T_ASSIGN_OR_RETURN(double v, call.config().Float(key, fallback));
      return PythonFloat(v);
    }
    std::vector<std::string> items;
    for (const Json& item : raw) {
      const auto v = NumberValue(item);
      if (!v) return MakeError("'{}' must hold numbers, found {}", key, Abbreviate(raw));
      items.push_back(PythonFloat(*v));
    }
    const ir::Value& in = call.input();
    K2T_ASSIGN_OR_RETURN(int dim, TorchAxis(in, -1));
    const int rank = static_cast<int>(in.shape.size());
    std::vector<std::string> shape(static_cast<std::size_t>(rank - 1), "1");
    shape[static_cast<std::size_t>(dim - 1)] = "-1";
    return fmt::format("torch.tensor([{}]).reshape({})", Join(items, ", "), Join(shape, ", "));
  }
};

class NormalizationConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override {
    return {"axis", "mean", "variance", "invert"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_RETURN_IF_ERROR(KeptAxes(call));
    return std::vector<Shape>{call.input().shape};
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    if (FromConfig(call)) return std::vector<WeightSpec>{};
    K2T_ASSIGN_OR_RETURN(auto axes, KeptAxes(call));
    Shape shape;
    for (int a : axes) shape.push_back(call.input().shape[static_cast<std::size_t>(a)]);
    return std::vector<WeightSpec>{{"mean", shape}, {"variance", shape}, {"count", {}, "", true}};
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    LayoutPlan plan = PassThroughPlan(call, current);
    if (current[0].features) plan = KerasOrderPlan(call);
    return plan;
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(auto axes, KeptAxes(call));
    K2T_ASSIGN_OR_RETURN(bool invert, call.config().Bool("invert", false));
    const ir::Value& in = call.input();
    const int rank = static_cast<int>(in.shape.size());
    // Statistics broadcast over the PyTorch layout, batch dim excluded.
    Shape keras_broadcast(static_cast<std::size_t>(rank), 1);
    for (int a : axes) keras_broadcast[static_cast<std::size_t>(a)] = in.shape[static_cast<std::size_t>(a)];
    std::vector<int> perm = in.layout.perm;
    if (perm.empty()) {
      for (int a = 0; a < rank; ++a) perm.push_back(a);
    }
    Shape torch_broadcast;
    for (int d = 1; d < rank; ++d) torch_broadcast.push_back(keras_broadcast[static_cast<std::size_t>(perm[d])]);
    Shape kept;
    for (int a : axes) kept.push_back(in.shape[static_cast<std::size_t>(a)]);
    // Kept axes in PyTorch order, as indices into `axes`.
    std::vector<int> order;
    for (int d = 1; d < rank; ++d) {
      const auto it = std::find(axes.begin(), axes.end(), perm[d]);
      if (it != axes.end()) order.push_back(static_cast<int>(it - axes.begin()));
    }

    Lowering lowering;
    lowering.module = fmt::format("_Normalization({}, invert={})", TupleText(torch_broadcast),
                                  invert ? "True" : "False");
    lowering.summary = invert ? "denormalization" : "(x - mean) / std";
    lowering.definitions.emplace_back("_Normalization", kNormalizationSource);
    auto statistic = [&](const std::string& key, int source) -> Expected<Param> {
      Param param;
      param.key = key;
      param.shape = torch_broadcast;
      if (source >= 0) {
        param.sources = {source};
        param.transform = [kept, order, torch_broadcast](std::vector<Tensor> s) -> Expected<Tensor> {
          Tensor t = s[0].ToFloat32().Reshape(kept);
          if (order.size() > 1) t = t.Permute(order);
          return t.Reshape(torch_broadcast);
        };
        return param;
      }
      // Statistics given in the config: a number or a list over the kept axes.
      std::vector<float> values;
      K2T_RETURN_IF_ERROR(Flatten(call.config().Raw(key), values));
      K2T_ASSIGN_OR_RETURN(std::int64_t count, ElementCount(kept));
      if (values.size() != 1 && static_cast<std::int64_t>(values.size()) != count) {
        return MakeError("'{}' has {} values for {} kept features", key, values.size(), count);
      }
      param.transform = [values, kept, order, torch_broadcast, count](std::vector<Tensor>)
          -> Expected<Tensor> {
        Tensor t(DType::kF32, kept);
        for (std::int64_t i = 0; i < count; ++i) {
          t.as<float>()[i] = values.size() == 1 ? values[0] : values[static_cast<std::size_t>(i)];
        }
        if (order.size() > 1) t = t.Permute(order);
        return t.Reshape(torch_broadcast);
      };
      return param;
    };
    const bool from_config = FromConfig(call);
    K2T_ASSIGN_OR_RETURN(Param mean, statistic("mean", from_config ? -1 : 0));
    K2T_ASSIGN_OR_RETURN(Param variance, statistic("variance", from_config ? -1 : 1));
    lowering.params.push_back(std::move(mean));
    lowering.params.push_back(std::move(variance));
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext&, const EmitContext& emit) const override {
    return fmt::format("{}({})", emit.self(), emit.inputs[0]);
  }

 private:
  static bool FromConfig(const CallContext& call) {
    return !call.config().IsNull("mean") && !call.config().IsNull("variance");
  }

  static std::string TupleText(const Shape& shape) {
    std::vector<std::string> parts;
    for (auto d : shape) parts.push_back(std::to_string(d));
    return "(" + Join(parts, ", ") + (parts.size() == 1 ? ",)" : ")");
  }

  static Status Flatten(const Json& value, std::vector<float>& out) {
    if (value.is_array()) {
      for (const Json& item : value) K2T_RETURN_IF_ERROR(Flatten(item, out));
      return Status::Ok();
    }
    const auto number = NumberValue(value);
    if (!number) return MakeError("statistics must be numbers, found {}", Abbreviate(value));
    out.push_back(static_cast<float>(*number));
    return Status::Ok();
  }

  // The axes Keras keeps statistics for, ascending; none for axis=None.
  static Expected<std::vector<int>> KeptAxes(const CallContext& call) {
    const Json& raw = call.config().Raw("axis");
    const int rank = static_cast<int>(call.input().shape.size());
    std::vector<std::int64_t> axes;
    if (call.config().Has("axis") && raw.is_null()) return std::vector<int>{};
    if (!call.config().Has("axis")) {
      axes = {-1};
    } else {
      K2T_ASSIGN_OR_RETURN(axes, call.config().IntList("axis"));
    }
    std::vector<int> out;
    for (auto a : axes) {
      const int axis = static_cast<int>(a < 0 ? a + rank : a);
      if (axis <= 0 || axis >= rank) {
        return MakeError("axis {} is out of range for an input of rank {}", a, rank);
      }
      if (call.input().shape[static_cast<std::size_t>(axis)] < 0) {
        return MakeError("kept axis {} has an unknown size", a);
      }
      out.push_back(axis);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

}  // namespace

void RegisterPreprocessingLayers(Registry& registry) {
  registry.Add("Rescaling", std::make_shared<RescalingConverter>());
  registry.Add("Normalization", std::make_shared<NormalizationConverter>());
}

}  // namespace k2t::layers
