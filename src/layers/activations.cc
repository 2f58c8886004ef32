//===- layers/activations.cc - ReLU, LeakyReLU, ELU, PReLU, Softmax, ... ---===//
//
// Slopes and thresholds always come from the config: Keras's defaults differ
// from PyTorch's (LeakyReLU 0.3 in Keras, 0.01 in PyTorch).
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include "layers/registry.h"
#include "layers/weights_transform.h"
#include "support/python_text.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

// Base for element-wise layers without weights: any layout, no module.
class ElementwiseConverter : public Converter {
 public:
  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    return std::vector<Shape>{call.input().shape};
  }
  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    return PassThroughPlan(call, current);
  }
  Expected<Lowering> Lower(const CallContext& call) const override {
    Lowering lowering;
    K2T_ASSIGN_OR_RETURN(lowering.summary, Summary(call));
    return lowering;
  }

 protected:
  virtual Expected<std::string> Summary(const CallContext& call) const = 0;
};

// Keras's relu(x, negative_slope, max_value, threshold), reproduced exactly:
//   y = x if x > threshold else 0; clip to [0, max_value]; y -= slope * relu(threshold - x)
class ReLUConverter : public ElementwiseConverter {
 public:
  std::set<std::string> KnownKeys() const override {
    return {"max_value", "negative_slope", "threshold"};
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    const ConfigReader config = call.config();
    K2T_ASSIGN_OR_RETURN(auto max_value, config.OptionalFloat("max_value"));
    K2T_ASSIGN_OR_RETURN(double slope, config.Float("negative_slope", 0.0));
    K2T_ASSIGN_OR_RETURN(double threshold, config.Float("threshold", 0.0));
    const std::string& x = emit.inputs[0];
    if (slope != 0.0 && !max_value && threshold == 0.0) {
      return fmt::format("F.leaky_relu({}, {})", x, PythonFloat(slope));
    }
    std::string y;
    bool clip = max_value.has_value();
    if (threshold != 0.0) {
      y = fmt::format("torch.where({0} > {1}, {0}, 0.0)", x, PythonFloat(threshold));
    } else if (max_value && *max_value == 6.0) {
      y = fmt::format("F.relu6({})", x);
      clip = false;
    } else {
      y = fmt::format("F.relu({})", x);
    }
    if (clip) y = fmt::format("torch.clamp({}, 0.0, {})", y, PythonFloat(*max_value));
    if (slope != 0.0) {
      const std::string negative = threshold != 0.0
                                       ? fmt::format("F.relu({} - {})", PythonFloat(threshold), x)
                                       : fmt::format("F.relu(-{})", x);
      y = fmt::format("{} - {} * {}", y, PythonFloat(slope), negative);
    }
    return y;
  }

 protected:
  Expected<std::string> Summary(const CallContext&) const override { return std::string("F.relu"); }
};

class LeakyReLUConverter : public ElementwiseConverter {
 public:
  std::set<std::string> KnownKeys() const override { return {"negative_slope", "alpha"}; }
  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    // Keras's LeakyReLU layer defaults to 0.3 (PyTorch: 0.01).
    K2T_ASSIGN_OR_RETURN(double slope, call.config().Float("negative_slope", 0.3));
    return fmt::format("F.leaky_relu({}, {})", emit.inputs[0], PythonFloat(slope));
  }

 protected:
  Expected<std::string> Summary(const CallContext&) const override {
    return std::string("F.leaky_relu");
  }
};

class ELUConverter : public ElementwiseConverter {
 public:
  std::set<std::string> KnownKeys() const override { return {"alpha"}; }
  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(double alpha, call.config().Float("alpha", 1.0));
    if (alpha == 1.0) return fmt::format("F.elu({})", emit.inputs[0]);
    return fmt::format("F.elu({}, {})", emit.inputs[0], PythonFloat(alpha));
  }

 protected:
  Expected<std::string> Summary(const CallContext&) const override { return std::string("F.elu"); }
};

class ThresholdedReLUConverter : public ElementwiseConverter {
 public:
  std::set<std::string> KnownKeys() const override { return {"theta"}; }
  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(double theta, call.config().Float("theta", 1.0));
    return fmt::format("F.threshold({}, {}, 0.0)", emit.inputs[0], PythonFloat(theta));
  }

 protected:
  Expected<std::string> Summary(const CallContext&) const override {
    return std::string("F.threshold");
  }
};

class SoftmaxConverter : public ElementwiseConverter {
 public:
  std::set<std::string> KnownKeys() const override { return {"axis"}; }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    K2T_ASSIGN_OR_RETURN(auto axes, Axes(call));
    // Softmax over every feature is indifferent to their order; otherwise the
    // axes must exist as such.
    const bool all_features = call.input().shape.size() == 2 && axes.size() == 1;
    if (current[0].features && !all_features) {
      LayoutPlan plan = KerasOrderPlan(call);
      return plan;
    }
    return PassThroughPlan(call, current);
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(auto axes, Axes(call));
    std::vector<std::int64_t> dims;
    for (int axis : axes) {
      K2T_ASSIGN_OR_RETURN(int dim, TorchAxis(call.input(), axis));
      dims.push_back(dim);
    }
    if (dims.size() == 1) return fmt::format("F.softmax({}, dim={})", emit.inputs[0], dims[0]);
    // Several axes: Keras computes exp(x - logsumexp(x, axes)).
    std::string list;
    for (auto d : dims) list += (list.empty() ? "" : ", ") + std::to_string(d);
    return fmt::format("torch.exp({0} - torch.logsumexp({0}, dim=({1}), keepdim=True))",
                       emit.inputs[0], list);
  }

 protected:
  Expected<std::string> Summary(const CallContext&) const override {
    return std::string("F.softmax");
  }

 private:
  static Expected<std::vector<int>> Axes(const CallContext& call) {
    const Json& axis = call.config().Raw("axis");
    if (axis.is_null()) return std::vector<int>{-1};
    if (axis.is_number_integer()) return std::vector<int>{axis.get<int>()};
    K2T_ASSIGN_OR_RETURN(auto list, call.config().IntList("axis"));
    return std::vector<int>(list.begin(), list.end());
  }
};

// PReLU: relu(x) - alpha * relu(-x), alpha shaped like the input without the
// batch axis, with 1 on the shared axes.
class PReLUConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override {
    return {"alpha_initializer", "alpha_regularizer", "alpha_constraint", "shared_axes"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    return std::vector<Shape>{call.input().shape};
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    return std::vector<WeightSpec>{{"alpha", AlphaShape(call)}};
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    LayoutPlan plan = PassThroughPlan(call, current);
    // alpha is reordered to the input's layout; a flattened order is also fine
    // when alpha is per feature.
    if (current[0].features && call.layer.nodes.size() != 1) plan = KerasOrderPlan(call);
    return plan;
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    const Shape alpha = AlphaShape(call);
    const ir::Value& in = call.input();
    Lowering lowering;
    // Shared over everything but the channel axis in a channels-first tensor:
    // exactly nn.PReLU(C).
    const std::int64_t channels = ChannelOnly(alpha);
    K2T_ASSIGN_OR_RETURN(int channel_dim, TorchAxis(in, -1));
    if (channels > 0 && channel_dim == 1 && !in.layout.features) {
      lowering.module = fmt::format("nn.PReLU({})", channels);
      lowering.summary = "nn.PReLU";
      Param weight;
      weight.key = "weight";
      weight.shape = {channels};
      weight.sources = {0};
      weight.transform = [channels](std::vector<Tensor> sources) -> Expected<Tensor> {
        return sources[0].Reshape({channels});
      };
      lowering.params.push_back(std::move(weight));
      return lowering;
    }
    // General case: alpha laid out like the PyTorch tensor (without batch).
    Shape torch_alpha;
    if (in.layout.perm.empty()) {
      torch_alpha = alpha;
    } else {
      for (std::size_t i = 1; i < in.layout.perm.size(); ++i) {
        torch_alpha.push_back(alpha[static_cast<std::size_t>(in.layout.perm[i] - 1)]);
      }
    }
    std::vector<std::string> dims;
    for (auto d : torch_alpha) dims.push_back(std::to_string(d));
    lowering.module = "_PReLU((" + Join(dims, ", ") + (dims.size() == 1 ? ",))" : "))");
    lowering.summary = "relu(x) - alpha * relu(-x)";
    lowering.definitions.emplace_back("_PReLU", kPReLUSource);
    Param param;
    param.key = "alpha";
    param.sources = {0};
    std::vector<int> perm;
    if (!in.layout.perm.empty()) {
      for (std::size_t i = 1; i < in.layout.perm.size(); ++i) perm.push_back(in.layout.perm[i] - 1);
    }
    param.shape = torch_alpha;
    const auto features = in.layout.features;
    param.transform = [perm, features](std::vector<Tensor> sources) -> Expected<Tensor> {
      Tensor a = std::move(sources[0]);
      if (features) {
        const Shape flat = a.shape();
        return ReorderFeatures(a.Reshape({a.size(), 1}), *features).Reshape(flat);
      }
      return perm.empty() ? a : a.Permute(perm);
    };
    lowering.params.push_back(std::move(param));
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext&, const EmitContext& emit) const override {
    return fmt::format("{}({})", emit.self(), emit.inputs[0]);
  }

 private:
  static constexpr const char* kPReLUSource = R"(class _PReLU(nn.Module):
    """Keras PReLU with one slope per element (or per unshared axis)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.empty(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x) - self.alpha * F.relu(-x)
)";

  static Shape AlphaShape(const CallContext& call) {
    Shape shape(call.input().shape.begin() + 1, call.input().shape.end());
    const Json& shared = call.config().Raw("shared_axes");
    std::vector<std::int64_t> axes;
    if (shared.is_number_integer()) axes.push_back(shared.get<std::int64_t>());
    if (shared.is_array()) {
      for (const Json& a : shared) {
        if (a.is_number_integer()) axes.push_back(a.get<std::int64_t>());
      }
    }
    for (auto a : axes) {
      if (a >= 1 && a <= static_cast<std::int64_t>(shape.size())) shape[static_cast<std::size_t>(a - 1)] = 1;
    }
    return shape;
  }

  // C when alpha is (1, ..., 1, C), else -1.
  static std::int64_t ChannelOnly(const Shape& alpha) {
    if (alpha.empty()) return -1;
    for (std::size_t i = 0; i + 1 < alpha.size(); ++i) {
      if (alpha[i] != 1) return -1;
    }
    return alpha.size() >= 2 ? alpha.back() : -1;
  }
};

}  // namespace

void RegisterActivationLayers(Registry& registry) {
  registry.Add("ReLU", std::make_shared<ReLUConverter>());
  registry.Add("LeakyReLU", std::make_shared<LeakyReLUConverter>());
  registry.Add("ELU", std::make_shared<ELUConverter>());
  registry.Add("ThresholdedReLU", std::make_shared<ThresholdedReLUConverter>());
  registry.Add("Softmax", std::make_shared<SoftmaxConverter>());
  registry.Add("PReLU", std::make_shared<PReLUConverter>());
}

}  // namespace k2t::layers
