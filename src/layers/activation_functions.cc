//===- layers/activation_functions.cc - Keras activations as PyTorch --------===//
#include "layers/activation_functions.h"

#include <fmt/format.h>

#include "support/strings.h"

namespace k2t::layers {
namespace {

// sparsemax has no PyTorch function; this is Keras's own algorithm.
constexpr const char* kSparsemaxSource = R"(def _sparsemax(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Sparsemax along `dim`, as Keras computes it."""
    x_sorted, _ = torch.sort(x, dim=dim, descending=True)
    cumulative = torch.cumsum(x_sorted, dim=dim)
    shape = [1] * x.dim()
    shape[dim] = -1
    k = torch.arange(1, x.shape[dim] + 1, dtype=x.dtype, device=x.device).reshape(shape)
    support = x_sorted - (cumulative - 1) / k > 0
    count = support.to(x.dtype).sum(dim=dim, keepdim=True)
    tau = (torch.where(support, cumulative, 0.0).sum(dim=dim, keepdim=True) - 1) / count
    return torch.clamp(x - tau, min=0.0)
)";

}  // namespace

Expected<std::string> ActivationName(const Json& value) {
  if (value.is_null()) return std::string("linear");
  if (value.is_string()) return value.get<std::string>();
  // Keras 3 may serialize a built-in activation as an object naming the function.
  if (value.is_object() && value.contains("config") && value["config"].is_string()) {
    const std::string module = value.value("module", "");
    if (StartsWith(module, "keras")) return value["config"].get<std::string>();
    return MakeError("activation '{}' is a custom function from module '{}', which cannot be "
                     "translated from the file",
                     PrintableText(value["config"].get<std::string>()), PrintableText(module));
  }
  return MakeError("activation {} is not a Keras activation name", Abbreviate(value));
}

Expected<std::string> ActivationExpression(const std::string& name, const std::string& x,
                                           const config::KerasInfo& keras, int channel_dim,
                                           Lowering* lowering) {
  if (name == "linear" || name.empty()) return x;
  if (name == "relu") return fmt::format("F.relu({})", x);
  if (name == "relu6") return fmt::format("F.relu6({})", x);
  if (name == "sigmoid") return fmt::format("torch.sigmoid({})", x);
  if (name == "tanh") return fmt::format("torch.tanh({})", x);
  if (name == "softmax") return fmt::format("F.softmax({}, dim={})", x, channel_dim);
  if (name == "log_softmax") return fmt::format("F.log_softmax({}, dim={})", x, channel_dim);
  if (name == "elu") return fmt::format("F.elu({})", x);
  if (name == "selu") return fmt::format("F.selu({})", x);
  if (name == "celu") return fmt::format("F.celu({})", x);
  if (name == "softplus") return fmt::format("F.softplus({})", x);
  if (name == "softsign") return fmt::format("F.softsign({})", x);
  if (name == "swish" || name == "silu") return fmt::format("F.silu({})", x);
  if (name == "gelu") return fmt::format("F.gelu({})", x);  // Keras: approximate=False
  if (name == "mish") return fmt::format("F.mish({})", x);
  if (name == "exponential") return fmt::format("torch.exp({})", x);
  if (name == "hard_tanh") return fmt::format("F.hardtanh({})", x);
  if (name == "hard_shrink") return fmt::format("F.hardshrink({}, 0.5)", x);
  if (name == "soft_shrink") return fmt::format("F.softshrink({}, 0.5)", x);
  if (name == "tanh_shrink") return fmt::format("F.tanhshrink({})", x);
  if (name == "log_sigmoid") return fmt::format("F.logsigmoid({})", x);
  if (name == "glu") return fmt::format("F.glu({}, dim={})", x, channel_dim);
  if (name == "hard_silu" || name == "hard_swish") return fmt::format("F.hardswish({})", x);
  if (name == "sparse_sigmoid") return fmt::format("torch.clamp(0.5 * ({} + 1.0), 0.0, 1.0)", x);
  if (name == "squareplus") return fmt::format("0.5 * ({0} + torch.sqrt({0} * {0} + 4.0))", x);
  if (name == "sparse_plus") {
    return fmt::format(
        "torch.where({0} <= -1.0, 0.0, torch.where({0} < 1.0, 0.25 * ({0} + 1.0) ** 2, {0}))", x);
  }
  if (name == "leaky_relu") {
    // As a function (not the LeakyReLU layer), Keras 3 and tf.keras use slope 0.2.
    return fmt::format("F.leaky_relu({}, 0.2)", x);
  }
  if (name == "hard_sigmoid") {
    // Keras 3: relu6(x + 3) / 6. Keras 1 and 2: clip(0.2 x + 0.5, 0, 1).
    if (keras.major >= 3) return fmt::format("F.hardsigmoid({})", x);
    if (lowering) lowering->notes.push_back("hard_sigmoid as Keras 1/2 define it: clip(0.2x + 0.5, 0, 1)");
    return fmt::format("torch.clamp(0.2 * {} + 0.5, 0.0, 1.0)", x);
  }
  if (name == "sparsemax") {
    if (lowering) lowering->definitions.emplace_back("_sparsemax", kSparsemaxSource);
    return fmt::format("_sparsemax({}, dim={})", x, channel_dim);
  }
  return MakeError("activation '{}' is not supported", PrintableText(name));
}

Expected<Shape> ActivationShape(const std::string& name, Shape shape) {
  if (name != "glu" || shape.empty() || shape.back() < 0) return shape;
  if (shape.back() % 2 != 0) {
    return MakeError("activation 'glu' needs an even last axis, found shape {}",
                     FormatShape(shape));
  }
  shape.back() /= 2;
  return shape;
}

int LastAxisDim(const ir::Value& value) {
  auto dim = TorchAxis(value, -1);
  return dim.ok() ? *dim : static_cast<int>(value.shape.size()) - 1;
}

}  // namespace k2t::layers
