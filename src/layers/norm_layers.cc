//===- layers/norm_layers.cc - LayerNorm, GroupNorm, UnitNorm, RMSNorm ------===//
//
// Keras normalizes over Keras axes; in PyTorch those axes may sit anywhere
// (the channel axis of an NCHW tensor is dim 1). nn.LayerNorm and nn.RMSNorm
// fit when the normalized dims are the trailing ones; otherwise a small
// module reduces over the right dims, with its parameters laid out to
// broadcast there. Epsilons always come from the config (Keras: 1e-3 for
// LayerNormalization and GroupNormalization, PyTorch: 1e-5).
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include <algorithm>

#include "layers/padding.h"
#include "layers/registry.h"
#include "layers/weights_transform.h"
#include "support/python_text.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

constexpr const char* kNormDimsSource = R"(class _NormOverDims(nn.Module):
    """Keras LayerNormalization / RMSNormalization over dims that are not the
    trailing ones in PyTorch's layout; parameters broadcast over the others.

    mode "layer": (x - mean) / sqrt(var + eps); "rms": x / sqrt(mean(x^2) + eps);
    "variance": x / sqrt(var + eps), Keras 3's LayerNormalization(rms_scaling=True).
    """

    def __init__(self, shape: tuple[int, ...], dims: tuple[int, ...], eps: float, mode: str,
                 weight: bool, bias: bool) -> None:
        super().__init__()
        self.dims, self.eps, self.mode = dims, eps, mode
        self.weight = nn.Parameter(torch.ones(shape)) if weight else None
        self.bias = nn.Parameter(torch.zeros(shape)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "rms":
            y = x * torch.rsqrt(x.square().mean(dim=self.dims, keepdim=True) + self.eps)
        elif self.mode == "variance":
            var = torch.var(x, dim=self.dims, correction=0, keepdim=True)
            y = x * torch.rsqrt(var + self.eps)
        else:
            var, mean = torch.var_mean(x, dim=self.dims, correction=0, keepdim=True)
            y = (x - mean) * torch.rsqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y
)";

// Keras 3's LayerNormalization(rms_scaling=True): the variance, not the mean
// square, divides; there is no beta.
constexpr const char* kRmsScalingNote =
    "rms_scaling: x * rsqrt(var(x) + eps) * gamma, as Keras 3 computes it";

// The normalized axes, as positive indices. Sorted unless `config_order`: Keras
// sizes gamma and beta by the axes in the order the config lists them, and then
// reshapes (not transposes) them to the input's axis order, so a file written
// with axis=[2, 1] holds a (W, H) gamma whose values are read in (H, W) order.
Expected<std::vector<int>> Axes(const CallContext& call, const std::string& key, int fallback,
                                bool config_order = false) {
  const Json& raw = call.config().Raw(key);
  std::vector<std::int64_t> axes;
  if (raw.is_null()) {
    axes = {fallback};
  } else {
    K2T_ASSIGN_OR_RETURN(axes, call.config().IntList(key));
  }
  const int rank = static_cast<int>(call.input().shape.size());
  std::vector<int> out;
  for (auto a : axes) {
    const int axis = static_cast<int>(a < 0 ? a + rank : a);
    if (axis <= 0 || axis >= rank) {
      return MakeError("axis {} is not a feature axis of an input of rank {}", a, rank);
    }
    out.push_back(axis);
  }
  if (config_order) return out;
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Where the normalized Keras axes sit in PyTorch, and the parameter layout.
struct NormPlacement {
  std::vector<int> dims;       // PyTorch dims, ascending
  bool trailing = false;       // dims are the last ones
  Shape param_shape;           // PyTorch parameter shape
  std::vector<int> param_perm; // Keras parameter (sorted axes) -> PyTorch order
};

Expected<NormPlacement> Place(const CallContext& call, const std::vector<int>& axes) {
  const ir::Value& in = call.input();
  const int rank = static_cast<int>(in.shape.size());
  NormPlacement p;
  std::vector<std::pair<int, int>> torch_and_keras;  // (torch dim, index in axes)
  for (std::size_t k = 0; k < axes.size(); ++k) {
    K2T_ASSIGN_OR_RETURN(int dim, TorchAxis(in, axes[k]));
    torch_and_keras.emplace_back(dim, static_cast<int>(k));
  }
  std::sort(torch_and_keras.begin(), torch_and_keras.end());
  for (const auto& [dim, k] : torch_and_keras) {
    p.dims.push_back(dim);
    p.param_perm.push_back(k);
  }
  p.trailing = p.dims.back() == rank - 1 &&
               p.dims.front() == rank - static_cast<int>(p.dims.size());
  const Shape torch_shape = TorchShape(in);
  if (p.trailing) {
    for (int d : p.dims) p.param_shape.push_back(torch_shape[static_cast<std::size_t>(d)]);
  } else {
    // Broadcast shape over every non-batch dim.
    for (int d = 1; d < rank; ++d) {
      const bool normalized = std::find(p.dims.begin(), p.dims.end(), d) != p.dims.end();
      p.param_shape.push_back(normalized ? torch_shape[static_cast<std::size_t>(d)] : 1);
    }
  }
  for (auto d : p.param_shape) {
    if (d < 0) return MakeError("the normalized axes must have known sizes");
  }
  return p;
}

Param OnesParam(const std::string& key, const Shape& shape) {
  Param param;
  param.key = key;
  param.shape = shape;
  param.transform = [shape](std::vector<Tensor>) -> Expected<Tensor> {
    Tensor t(DType::kF32, shape);
    std::fill(t.as<float>(), t.as<float>() + t.size(), 1.0f);
    return t;
  };
  return param;
}

// A Keras parameter (sizes of the sorted axes) in PyTorch's layout.
Param PlacedParam(const std::string& key, int source, const Shape& keras_shape,
                  const NormPlacement& p) {
  Param param;
  param.key = key;
  param.shape = p.param_shape;
  param.sources = {source};
  const Shape target = p.param_shape;
  const std::vector<int> perm = p.param_perm;
  param.transform = [keras_shape, target, perm](std::vector<Tensor> s) -> Expected<Tensor> {
    Tensor t = s[0].Reshape(keras_shape);
    if (perm.size() > 1) t = t.Permute(perm);
    return t.Reshape(target);
  };
  return param;
}

Shape KerasParamShape(const CallContext& call, const std::vector<int>& axes) {
  Shape shape;
  for (int a : axes) shape.push_back(call.input().shape[static_cast<std::size_t>(a)]);
  return shape;
}

class LayerNormConverter : public Converter {
 public:
  explicit LayerNormConverter(bool rms) : rms_(rms) {}

  std::set<std::string> KnownKeys() const override {
    return {"axis", "epsilon", "center", "scale", "rms_scaling", "beta_initializer",
            "gamma_initializer", "beta_regularizer", "gamma_regularizer", "beta_constraint",
            "gamma_constraint"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_RETURN_IF_ERROR(Axes(call, "axis", -1));
    return std::vector<Shape>{call.input().shape};
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(auto axes, Axes(call, "axis", -1, /*config_order=*/true));
    const Shape shape = KerasParamShape(call, axes);
    std::vector<WeightSpec> specs;
    if (rms_) return std::vector<WeightSpec>{{"scale", shape}};
    K2T_ASSIGN_OR_RETURN(bool rms_scaling, call.config().Bool("rms_scaling", false));
    K2T_ASSIGN_OR_RETURN(bool scale, call.config().Bool("scale", true));
    K2T_ASSIGN_OR_RETURN(bool center, call.config().Bool("center", true));
    if (scale || rms_scaling) specs.push_back({"gamma", shape});
    if (center && !rms_scaling) specs.push_back({"beta", shape});
    return specs;
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    LayoutPlan plan = PassThroughPlan(call, current);
    if (current[0].features) plan = KerasOrderPlan(call);
    return plan;
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(auto axes, Axes(call, "axis", -1));
    K2T_ASSIGN_OR_RETURN(NormPlacement p, Place(call, axes));
    K2T_ASSIGN_OR_RETURN(double eps, call.config().Float("epsilon", rms_ ? 1e-6 : 1e-3));
    K2T_ASSIGN_OR_RETURN(bool rms_scaling, call.config().Bool("rms_scaling", false));
    K2T_ASSIGN_OR_RETURN(bool scale, call.config().Bool("scale", true));
    K2T_ASSIGN_OR_RETURN(bool center, call.config().Bool("center", true));
    const bool rms = rms_;
    const bool has_weight = rms || scale || rms_scaling;
    const bool has_bias = !rms && center && !rms_scaling;
    const Shape keras_shape = KerasParamShape(call, axes);

    Lowering lowering;
    const std::vector<std::int64_t> dims(p.dims.begin(), p.dims.end());
    // Keras 3's rms_scaling divides x (not x - mean) by sqrt(variance + eps): only the
    // general module has that mode.
    if (p.trailing && !rms_scaling) {
      const std::string shape = p.param_shape.size() == 1 ? std::to_string(p.param_shape[0])
                                                          : PyTuple(p.param_shape);
      if (rms) {
        lowering.module = fmt::format("nn.RMSNorm({}, eps={})", shape, PythonFloat(eps));
        lowering.summary = "nn.RMSNorm";
      } else {
        std::string extra;
        if (!has_weight && !has_bias) extra = ", elementwise_affine=False";
        if (has_weight && !has_bias) extra = ", bias=False";
        lowering.module = fmt::format("nn.LayerNorm({}, eps={}{})", shape, PythonFloat(eps), extra);
        lowering.summary = "nn.LayerNorm";
        if (!has_weight && has_bias) lowering.params.push_back(OnesParam("weight", p.param_shape));
      }
    } else {
      lowering.module = fmt::format(
          "_NormOverDims({}, {}, eps={}, mode=\"{}\", weight={}, bias={})",
          PyTuple(p.param_shape), PyTuple(dims), PythonFloat(eps),
          rms ? "rms" : (rms_scaling ? "variance" : "layer"), has_weight ? "True" : "False",
          has_bias ? "True" : "False");
      lowering.summary = rms ? "RMS norm over dims" : "layer norm over dims";
      lowering.definitions.emplace_back("_NormOverDims", kNormDimsSource);
      if (rms_scaling) lowering.notes.push_back(kRmsScalingNote);
    }
    int next = 0;
    if (has_weight) lowering.params.push_back(PlacedParam("weight", next++, keras_shape, p));
    if (has_bias) lowering.params.push_back(PlacedParam("bias", next++, keras_shape, p));
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext&, const EmitContext& emit) const override {
    return fmt::format("{}({})", emit.self(), emit.inputs[0]);
  }

 private:
  bool rms_;
};

class GroupNormConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override {
    return {"groups", "axis", "epsilon", "center", "scale", "beta_initializer",
            "gamma_initializer", "beta_regularizer", "gamma_regularizer", "beta_constraint",
            "gamma_constraint"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_RETURN_IF_ERROR(Groups(call));
    return std::vector<Shape>{call.input().shape};
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(int axis, Axis(call));
    const std::int64_t c = call.input().shape[static_cast<std::size_t>(axis)];
    std::vector<WeightSpec> specs;
    K2T_ASSIGN_OR_RETURN(bool scale, call.config().Bool("scale", true));
    K2T_ASSIGN_OR_RETURN(bool center, call.config().Bool("center", true));
    if (scale) specs.push_back({"gamma", {c}});
    if (center) specs.push_back({"beta", {c}});
    return specs;
  }

  // nn.GroupNorm wants the grouped axis at dim 1.
  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>&) const override {
    K2T_ASSIGN_OR_RETURN(int axis, Axis(call));
    const int rank = static_cast<int>(call.input().shape.size());
    ir::Layout layout;
    layout.perm = {0, axis};
    for (int a = 1; a < rank; ++a) {
      if (a != axis) layout.perm.push_back(a);
    }
    LayoutPlan plan;
    plan.inputs = {layout};
    plan.outputs = {layout};
    return plan;
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(std::int64_t groups, Groups(call));
    K2T_ASSIGN_OR_RETURN(int axis, Axis(call));
    const std::int64_t c = call.input().shape[static_cast<std::size_t>(axis)];
    K2T_ASSIGN_OR_RETURN(double eps, call.config().Float("epsilon", 1e-3));
    K2T_ASSIGN_OR_RETURN(bool scale, call.config().Bool("scale", true));
    K2T_ASSIGN_OR_RETURN(bool center, call.config().Bool("center", true));
    Lowering lowering;
    lowering.module = fmt::format("nn.GroupNorm({}, {}, eps={})", groups, c, PythonFloat(eps));
    lowering.summary = "nn.GroupNorm";
    int next = 0;
    auto constant = [c](const std::string& key, float value) {
      Param param;
      param.key = key;
      param.shape = {c};
      param.transform = [c, value](std::vector<Tensor>) -> Expected<Tensor> {
        Tensor t(DType::kF32, {c});
        std::fill(t.as<float>(), t.as<float>() + c, value);
        return t;
      };
      return param;
    };
    lowering.params.push_back(scale ? CopyParam("weight", next++, {c}) : constant("weight", 1.0f));
    lowering.params.push_back(center ? CopyParam("bias", next++, {c}) : constant("bias", 0.0f));
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext&, const EmitContext& emit) const override {
    return fmt::format("{}({})", emit.self(), emit.inputs[0]);
  }

 private:
  static Expected<int> Axis(const CallContext& call) {
    K2T_ASSIGN_OR_RETURN(auto axes, Axes(call, "axis", -1));
    if (axes.size() != 1) return MakeError("GroupNormalization takes one axis");
    return axes[0];
  }
  static Expected<std::int64_t> Groups(const CallContext& call) {
    K2T_ASSIGN_OR_RETURN(int axis, Axis(call));
    const std::int64_t c = call.input().shape[static_cast<std::size_t>(axis)];
    K2T_ASSIGN_OR_RETURN(std::int64_t groups, call.config().Int("groups", 32));
    if (groups == -1) groups = c;  // instance normalization
    if (groups <= 0 || c < 0 || c % groups != 0) {
      return MakeError("{} channels cannot be split into {} groups", c, groups);
    }
    return groups;
  }
};

class UnitNormConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override { return {"axis"}; }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_RETURN_IF_ERROR(Axes(call, "axis", -1));
    return std::vector<Shape>{call.input().shape};
  }
  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    LayoutPlan plan = PassThroughPlan(call, current);
    if (current[0].features && call.input().shape.size() == 2) return plan;  // order-free
    if (current[0].features) plan = KerasOrderPlan(call);
    return plan;
  }
  Expected<Lowering> Lower(const CallContext&) const override {
    Lowering lowering;
    lowering.summary = "L2 normalization";
    return lowering;
  }
  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(auto axes, Axes(call, "axis", -1));
    std::vector<std::string> dims;
    for (int a : axes) {
      K2T_ASSIGN_OR_RETURN(int dim, TorchAxis(call.input(), a));
      dims.push_back(std::to_string(dim));
    }
    std::sort(dims.begin(), dims.end());
    // Keras 3: x / max(|x|, 1e-12); tf.keras: x * rsqrt(max(sum x^2, 1e-12)).
    const std::string floor = call.keras.major >= 3 ? "1e-24" : "1e-12";
    const std::string dim = dims.size() == 1 ? dims[0] : "(" + Join(dims, ", ") + ")";
    return fmt::format("{0} * torch.rsqrt(torch.clamp({0}.square().sum(dim={1}, keepdim=True), "
                       "min={2}))",
                       emit.inputs[0], dim, floor);
  }
};

}  // namespace

void RegisterNormLayers(Registry& registry) {
  registry.Add("LayerNormalization", std::make_shared<LayerNormConverter>(false));
  registry.Add("RMSNormalization", std::make_shared<LayerNormConverter>(true));
  registry.Add("GroupNormalization", std::make_shared<GroupNormConverter>());
  registry.Add("UnitNormalization", std::make_shared<UnitNormConverter>());
}

}  // namespace k2t::layers
