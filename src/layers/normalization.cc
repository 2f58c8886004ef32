//===- layers/normalization.cc - BatchNormalization --------------------------===//
//
// Inference BatchNorm: (x - moving_mean) / sqrt(moving_variance + eps) * gamma
// + beta, with Keras's epsilon (1e-3 by default, PyTorch's is 1e-5). When the
// normalized axis is PyTorch's channel axis this is nn.BatchNormNd; otherwise
// a small module applies the same statistics along another axis.
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "layers/registry.h"
#include "support/strings.h"
#include "layers/weights_transform.h"
#include "support/python_text.h"

namespace k2t::layers {
namespace {

constexpr const char* kBatchNormAxisSource = R"(class _BatchNormAxis(nn.BatchNorm1d):
    """Inference batch normalization along `dim`, for a tensor whose normalized
    axis is not PyTorch's channel axis. Same parameters as nn.BatchNorm1d."""

    def __init__(self, num_features: int, eps: float, dim: int) -> None:
        super().__init__(num_features, eps=eps)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[self.dim] = -1
        scale = self.weight * torch.rsqrt(self.running_var + self.eps)
        shift = self.bias - self.running_mean * scale
        return x * scale.reshape(shape) + shift.reshape(shape)
)";

struct BatchNormConfig {
  int axis = -1;
  double epsilon = 1e-3;
  bool center = true;
  bool scale = true;
};

Expected<BatchNormConfig> ReadBatchNorm(const CallContext& call) {
  const ConfigReader config = call.config();
  BatchNormConfig bn;
  const Json& axis = config.Raw("axis");
  if (axis.is_array()) {
    // Shown as the other messages show lists ("[1, 3]"), not as raw JSON.
    auto axes = config.IntList("axis");
    const std::string shown = axes.ok() ? FormatList(*axes) : Abbreviate(axis);
    return MakeError("normalizing over several axes {} is not supported", shown);
  }
  K2T_ASSIGN_OR_RETURN(std::int64_t a, config.Int("axis", -1));
  bn.axis = static_cast<int>(a);
  K2T_ASSIGN_OR_RETURN(bn.epsilon, config.Float("epsilon", 1e-3));
  K2T_ASSIGN_OR_RETURN(bn.center, config.Bool("center", true));
  K2T_ASSIGN_OR_RETURN(bn.scale, config.Bool("scale", true));
  K2T_ASSIGN_OR_RETURN(std::int64_t mode, config.Int("mode", 0));
  if (mode != 0) {
    return MakeError("Keras 1 BatchNormalization mode {} is not supported (only mode 0)", mode);
  }
  const int rank = static_cast<int>(call.input().shape.size());
  if (bn.axis < 0) bn.axis += rank;
  if (bn.axis <= 0 || bn.axis >= rank) {
    return MakeError("axis {} is not a feature axis of an input of rank {}", a, rank);
  }
  return bn;
}

// The minor version of a recorded "2.11.0" or "2.2.4-tf"; -1 if unreadable.
int MinorVersion(const std::string& version) {
  const auto parts = Split(version, '.');
  if (parts.size() < 2 || parts[1].empty()) return -1;
  int minor = 0;
  for (char c : parts[1]) {
    if (c < '0' || c > '9') return -1;
    minor = minor * 10 + (c - '0');
  }
  return minor;
}

// Keras 2's fused batch norm (4-D and 5-D inputs) ran TensorFlow's
// fused_batch_norm, which silently raised epsilon to at least 1.001e-5 up to
// TensorFlow 2.11 (tensorflow/python/ops/nn_impl.py); TensorFlow 2.12 dropped
// the clamp. The Keras 2 version in the file follows TensorFlow's from 2.6 on
// (earlier tf.keras files say 2.2.4-tf or 2.4.0, standalone Keras 2.0-2.3,
// all run on a clamping TensorFlow). Reproduce what the model computed.
double EffectiveEpsilon(const CallContext& call, const BatchNormConfig& bn, bool* raised) {
  *raised = false;
  const int rank = static_cast<int>(call.input().shape.size());
  const int minor = MinorVersion(call.keras.version);
  const bool clamping_tf = minor >= 0 && minor < 12;
  const bool fused_keras =
      call.keras.major == 2 && clamping_tf && call.keras.backend != "theano";
  const ConfigReader config = call.config();
  const bool fused_allowed = config.IsNull("fused") || config.Bool("fused", true).value_or(true);
  const bool plain = !config.Bool("renorm", false).value_or(false) &&
                     config.IsNull("virtual_batch_size") && config.IsNull("adjustment");
  const bool channel_axis = bn.axis == 1 || bn.axis == rank - 1;
  if (fused_keras && fused_allowed && plain && channel_axis && (rank == 4 || rank == 5) &&
      bn.epsilon < 1.001e-5) {
    *raised = true;
    return 1.001e-5;
  }
  return bn.epsilon;
}

Param ConstantParam(const std::string& key, std::int64_t channels, float value) {
  Param param;
  param.key = key;
  param.shape = {channels};
  param.transform = [channels, value](std::vector<Tensor>) -> Expected<Tensor> {
    Tensor t(DType::kF32, {channels});
    std::fill(t.as<float>(), t.as<float>() + channels, value);
    return t;
  };
  return param;
}

class BatchNormConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override {
    return {"axis", "epsilon", "center", "scale", "momentum", "beta_initializer",
            "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer",
            "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint",
            "renorm", "renorm_clipping", "renorm_momentum", "fused", "virtual_batch_size",
            "adjustment", "synchronized", "mode"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_RETURN_IF_ERROR(ReadBatchNorm(call));
    return std::vector<Shape>{call.input().shape};
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(BatchNormConfig bn, ReadBatchNorm(call));
    const std::int64_t c = call.input().shape[static_cast<std::size_t>(bn.axis)];
    std::vector<WeightSpec> specs;
    if (bn.scale) specs.push_back({"gamma", {c}});
    if (bn.center) specs.push_back({"beta", {c}});
    specs.push_back({"moving_mean", {c}});
    specs.push_back({"moving_variance", {c}});
    return specs;
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    // Any axis order works: the normalized axis is found wherever it went.
    // Flattened features work too (the statistics are reordered), if this
    // layer is called once.
    LayoutPlan plan = PassThroughPlan(call, current);
    if (current[0].features && call.layer.nodes.size() != 1) plan = KerasOrderPlan(call);
    return plan;
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(BatchNormConfig bn, ReadBatchNorm(call));
    const ir::Value& in = call.input();
    const int rank = static_cast<int>(in.shape.size());
    const std::int64_t c = in.shape[static_cast<std::size_t>(bn.axis)];
    K2T_ASSIGN_OR_RETURN(int dim, TorchAxis(in, bn.axis));
    bool raised = false;
    const double eps = EffectiveEpsilon(call, bn, &raised);

    Lowering lowering;
    if (dim == 1 && rank >= 2 && rank <= 5) {
      const int n = std::max(1, rank - 2);
      lowering.module = fmt::format("nn.BatchNorm{}d({}, eps={})", n, c, PythonFloat(eps));
      lowering.summary = fmt::format("nn.BatchNorm{}d", n);
    } else {
      lowering.module = fmt::format("_BatchNormAxis({}, eps={}, dim={})", c, PythonFloat(eps), dim);
      lowering.summary = "batch norm along dim " + std::to_string(dim);
      lowering.definitions.emplace_back("_BatchNormAxis", kBatchNormAxisSource);
    }
    if (raised) {
      lowering.notes.push_back(fmt::format(
          "epsilon {} raised to 1.001e-05, as fused batch norm did before TensorFlow 2.12",
          bn.epsilon));
    }

    // Keras weights in order: gamma?, beta?, moving_mean, moving_variance.
    const auto features = in.layout.features;
    auto stat = [&](const std::string& key, int source) {
      Param p = CopyParam(key, source, {c});
      if (features) {
        p.transform = [features](std::vector<Tensor> s) -> Expected<Tensor> {
          return ReorderFeatures(s[0].Reshape({s[0].size(), 1}), *features).Reshape({s[0].size()});
        };
      }
      return p;
    };
    int next = 0;
    lowering.params.push_back(bn.scale ? stat("weight", next++) : ConstantParam("weight", c, 1.0f));
    lowering.params.push_back(bn.center ? stat("bias", next++) : ConstantParam("bias", c, 0.0f));
    lowering.params.push_back(stat("running_mean", next++));
    lowering.params.push_back(stat("running_var", next++));
    Param batches;
    batches.key = "num_batches_tracked";
    batches.dtype = DType::kI64;
    batches.transform = [](std::vector<Tensor>) -> Expected<Tensor> {
      return Tensor(DType::kI64, {});
    };
    lowering.params.push_back(std::move(batches));
    if (!bn.scale || !bn.center) {
      lowering.notes.push_back(fmt::format("{} off: stored as {}",
                                           !bn.scale ? "scale" : "center",
                                           !bn.scale ? "weight = 1" : "bias = 0"));
    }
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext&, const EmitContext& emit) const override {
    return fmt::format("{}({})", emit.self(), emit.inputs[0]);
  }
};

}  // namespace

void RegisterNormalizationLayers(Registry& registry) {
  registry.Add("BatchNormalization", std::make_shared<BatchNormConverter>());
}

}  // namespace k2t::layers
