//===- layers/attention.cc - MultiHeadAttention, Attention, EinsumDense, Dot ===//
//
// MultiHeadAttention becomes a small generated module: nn.Linear projections
// of query, key and value (Keras's EinsumDense kernels (d_in, heads, dim)
// flattened head-major to (heads * dim, d_in)), scaled dot-product attention
// per head and the output projection. Without masks and scores it calls
// F.scaled_dot_product_attention; with either it computes the softmax itself,
// because a query row with every key masked must give what Keras gives:
//
//   tf.keras            scores + (1 - mask) * -1e9 (or where(mask, s, -1e9)
//                       with softmax_robust_masking): a uniform row
//   Keras 3, fast path  (dropout 0, no scores, rank-3 inputs, 3.7+)
//                       ops.dot_product_attention, masked logits replaced by
//                       a huge negative: a uniform row
//   Keras 3, explicit   Softmax(mask): where(mask, s, -1e9), then masked
//                       probabilities zeroed (3.10+): a row of zeros; before
//                       3.10 the additive form, a uniform row
//
// Masks: the Keras masks of query, value and key arrive from the mask pass as
// "mask@<input>" tensor arguments. Keras 3 replaces an explicit query_mask by
// the query's own Keras mask, and fills value_mask / key_mask from the value's
// and key's Keras masks only when they are not given; tf.keras reads the three
// Keras masks. All are ANDed with attention_mask and the causal mask (lower
// triangular, top-left aligned, also for T != S).
//
// Attention (Luong) and AdditiveAttention (Bahdanau) compute their scores
// directly; masked keys get score - 1e9 and masked queries zeros, in every
// version. EinsumDense passes its equation to torch.einsum. Dot is a batched
// einsum over the two axes, optionally L2-normalised (Keras 3 caps the inverse
// norm at 1e7, tf.keras the squared norm below at 1e-12).
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <numeric>

#include "layers/activation_functions.h"
#include "layers/nested.h"
#include "layers/padding.h"
#include "layers/registry.h"
#include "layers/weights_transform.h"
#include "support/python_text.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

constexpr const char* kMultiHeadAttentionSource = R"(class _KerasMultiHeadAttention(nn.Module):
    """Keras MultiHeadAttention: per-head linear projections of query, key and
    value, scaled dot-product attention in every head, and the output
    projection. Masks are boolean, True where a query may attend to a key.

    `masking` says what a query row whose keys are all masked gets, as the
    Keras version that saved the model computes it: "add" (scores - 1e9 on
    masked keys) and "fill" (scores replaced by -1e9) give uniform weights,
    "fill_zero" zero weights."""

    def __init__(self, query_size: int, key_size: int, value_size: int, num_heads: int,
                 key_dim: int, value_dim: int, output_shape: tuple, bias: bool = True,
                 gate: bool = False, masking: str = "fill") -> None:
        super().__init__()
        self.num_heads, self.key_dim, self.value_dim = num_heads, key_dim, value_dim
        self.output_shape, self.masking = output_shape, masking
        self.query = nn.Linear(query_size, num_heads * key_dim, bias=bias)
        self.key = nn.Linear(key_size, num_heads * key_dim, bias=bias)
        self.value = nn.Linear(value_size, num_heads * value_dim, bias=bias)
        self.gate = nn.Linear(query_size, num_heads * value_dim, bias=bias) if gate else None
        self.attention_output = nn.Linear(num_heads * value_dim, math.prod(output_shape), bias=bias)

    def heads(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        # (N, L, heads * dim) -> (N, heads, L, dim)
        return x.unflatten(-1, (self.num_heads, dim)).transpose(1, 2)

    def forward(self, query, value, key=None, attention_mask=None, query_mask=None,
                value_mask=None, key_mask=None, causal=False, window=None, return_scores=False):
        key = value if key is None else key
        # Attention runs over all axes between the batch and the features.
        positions = query.shape[1:-1]
        query, key, value = query.flatten(1, -2), key.flatten(1, -2), value.flatten(1, -2)
        rows, cols = query.shape[1], key.shape[1]
        masks = [] if attention_mask is None else [attention_mask.bool()]
        if query_mask is not None:
            masks.append(query_mask.flatten(1).unsqueeze(-1))  # (N, T, 1)
        for keys_mask in (value_mask, key_mask):
            if keys_mask is not None:
                masks.append(keys_mask.flatten(1).unsqueeze(-2))  # (N, 1, S)
        ones = torch.ones(rows, cols, dtype=torch.bool, device=query.device)
        if window is not None:
            masks.append(ones.tril(window - 1).triu(1 - window))  # |t - s| < window
        mask = None
        for m in masks:
            mask = m if mask is None else mask & m

        q = self.heads(self.query(query), self.key_dim)
        k = self.heads(self.key(key), self.key_dim)
        v = self.heads(self.value(value), self.value_dim)
        scale = 1.0 / math.sqrt(self.key_dim)
        scores = None
        if mask is None and not return_scores:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)
        else:
            if causal:
                mask = ones.tril() if mask is None else mask & ones.tril()
            scores = (q * scale) @ k.transpose(-2, -1)  # (N, heads, T, S)
            if mask is not None:
                allowed = mask.unsqueeze(-3)  # the same for every head
                if self.masking == "add":
                    scores = scores + (1.0 - allowed.to(scores.dtype)) * -1e9
                else:
                    scores = scores.masked_fill(~allowed, -1e9)
            scores = scores.softmax(dim=-1)
            if mask is not None and self.masking == "fill_zero":
                scores = scores.masked_fill(~allowed, 0.0)
            out = scores @ v
        out = out.transpose(1, 2).flatten(2)  # (N, T, heads * value_dim)
        if self.gate is not None:
            out = out * torch.sigmoid(self.gate(query))
        out = self.attention_output(out).unflatten(-1, self.output_shape)
        out = out.unflatten(1, positions)
        return (out, scores) if return_scores else out
)";

constexpr const char* kDenseAttentionSource = R"(class _KerasAttention(nn.Module):
    """Keras Attention (Luong; score_mode "dot" or "concat") and
    AdditiveAttention (Bahdanau, score "additive"): scores of every query
    against every key, softmax over the keys, weighted sum of the values.
    Masked keys get their score - 1e9 and masked queries zeros, as in Keras."""

    def __init__(self, score: str, dim: int, use_scale: bool) -> None:
        super().__init__()
        self.score = score
        scale_shape = (dim,) if score == "additive" else ()
        self.scale = nn.Parameter(torch.empty(scale_shape)) if use_scale else None
        if score == "concat":
            self.concat_score_weight = nn.Parameter(torch.empty(()))

    def scores(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        if self.score == "dot":
            scores = query @ key.transpose(-2, -1)
            return scores if self.scale is None else scores * self.scale
        pairs = query.unsqueeze(-2) + key.unsqueeze(-3)  # (N, Tq, Tv, dim)
        if self.score == "concat":
            if self.scale is not None:
                pairs = self.scale * pairs
            return self.concat_score_weight * torch.tanh(pairs).sum(dim=-1)
        tanh = torch.tanh(pairs)
        return (tanh if self.scale is None else self.scale * tanh).sum(dim=-1)

    def forward(self, query, value, key=None, query_mask=None, value_mask=None, causal=False,
                return_scores=False):
        key = value if key is None else key
        scores = self.scores(query, key)  # (N, Tq, Tv)
        allowed = None if value_mask is None else value_mask.unsqueeze(-2)
        if causal:
            ones = torch.ones(scores.shape[-2:], dtype=torch.bool, device=scores.device)
            allowed = ones.tril() if allowed is None else allowed & ones.tril()
        if allowed is not None:
            scores = torch.where(allowed, scores, scores - 1e9)
        weights = scores.softmax(dim=-1)
        out = weights @ value
        if query_mask is not None:
            out = torch.where(query_mask.unsqueeze(-1), out, 0.0)
        return (out, weights) if return_scores else out
)";

constexpr const char* kEinsumDenseSource = R"(class _KerasEinsumDense(nn.Module):
    """Keras EinsumDense: torch.einsum(equation, x, kernel) + bias, with the
    kernel and bias in Keras's own shapes."""

    def __init__(self, equation: str, kernel_shape: tuple, bias_shape: tuple | None) -> None:
        super().__init__()
        self.equation = equation
        self.kernel = nn.Parameter(torch.empty(kernel_shape))
        self.bias = nn.Parameter(torch.empty(bias_shape)) if bias_shape is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.einsum(self.equation, x, self.kernel)
        return y if self.bias is None else y + self.bias
)";

std::string PyBool(bool value) { return value ? "True" : "False"; }

// A boolean keyword argument of the call (return_attention_scores, ...).
bool CallFlag(const CallContext& call, const std::string& key) {
  if (!call.node.call) return false;
  const Json& kwargs = call.node.call->kwargs;
  return kwargs.is_object() && kwargs.contains(key) && kwargs[key] == true;
}

// (major, minor) of the Keras that wrote the file; an unknown version reads
// as the newest behaviour.
std::pair<int, int> KerasVersion(const config::KerasInfo& keras) {
  const auto parts = Split(keras.version, '.');
  if (parts.size() < 2 || parts[0].empty() || parts[1].empty()) return {keras.major, 99};
  return {std::atoi(parts[0].c_str()), std::atoi(parts[1].c_str())};
}

// One tensor argument of a call: positional input `index`, or tensor keyword
// argument number `index` when `keyword`.
struct Arg {
  int value = -1;
  bool keyword = false;
  std::size_t index = 0;
  std::string slot;  // "0", "1", ... or the keyword: how the mask pass names its mask
  bool present() const { return value >= 0; }
};

// The expression of an argument at emit time, in Keras's axis order.
Expected<std::string> ArgExpression(const CallContext& call, const EmitContext& emit,
                                    const Arg& arg) {
  if (!arg.keyword) return emit.inputs.at(arg.index);
  return InKerasOrder(call.graph.value(arg.value), emit.tensor_kwargs.at(arg.index).second);
}

// The Keras mask the mask pass attached for `arg`, as a tensor argument.
Arg MaskOf(const CallContext& call, const Arg& arg) {
  Arg mask;
  if (!arg.present()) return mask;
  const std::string key = "mask@" + arg.slot;
  for (std::size_t j = 0; j < call.node.tensor_kwargs.size(); ++j) {
    if (call.node.tensor_kwargs[j].first != key) continue;
    mask.value = call.node.tensor_kwargs[j].second;
    mask.keyword = true;
    mask.index = j;
    mask.slot = key;
  }
  return mask;
}

// Named tensor arguments of a call: positional ones take `positional_names`
// in order; keywords keep their names.
std::map<std::string, Arg> NamedArgs(const CallContext& call,
                                     const std::vector<std::string>& positional_names) {
  std::map<std::string, Arg> args;
  for (std::size_t i = 0; i < call.node.inputs.size() && i < positional_names.size(); ++i) {
    args[positional_names[i]] = {call.node.inputs[i], false, i, std::to_string(i)};
  }
  for (std::size_t j = 0; j < call.node.tensor_kwargs.size(); ++j) {
    const auto& [key, value] = call.node.tensor_kwargs[j];
    if (StartsWith(key, "mask@")) continue;
    args[key] = {value, true, j, key};
  }
  return args;
}

Shape ShapeOf(const CallContext& call, const Arg& arg) {
  return arg.present() ? call.graph.value(arg.value).shape : Shape{};
}

// Splits an equation "ab,bc->ac" into its three parts.
Expected<std::vector<std::string>> SplitEquation(const std::string& equation) {
  for (char ch : equation) {
    const bool ok = std::isalpha(static_cast<unsigned char>(ch)) || ch == ',' || ch == '-' ||
                    ch == '>' || ch == '.';
    if (!ok) return MakeError("equation '{}' has an unexpected character", PrintableText(equation));
  }
  const auto comma = equation.find(',');
  const auto arrow = equation.find("->");
  if (comma == std::string::npos || arrow == std::string::npos || arrow < comma) {
    return MakeError("equation '{}' is not of the form 'ab,bc->ac'", PrintableText(equation));
  }
  return std::vector<std::string>{equation.substr(0, comma),
                                  equation.substr(comma + 1, arrow - comma - 1),
                                  equation.substr(arrow + 2)};
}

//===----------------------------------------------------------------------===//
// MultiHeadAttention

struct MhaConfig {
  std::int64_t heads = 0, key_dim = 0, value_dim = 0;
  std::vector<std::int64_t> output_shape;  // empty: the query's feature size
  bool use_bias = true, use_gate = false, robust = false;
  double dropout = 0.0;
  std::int64_t window = 0;  // sliding_window, 0 for none
};

Expected<MhaConfig> ReadMha(const ConfigReader& config) {
  MhaConfig c;
  K2T_ASSIGN_OR_RETURN(c.heads, config.Int("num_heads"));
  K2T_ASSIGN_OR_RETURN(c.key_dim, config.Int("key_dim"));
  c.value_dim = c.key_dim;
  if (!config.IsNull("value_dim")) {
    K2T_ASSIGN_OR_RETURN(c.value_dim, config.Int("value_dim"));
  }
  if (c.heads <= 0 || c.key_dim <= 0 || c.value_dim <= 0) {
    return MakeError("num_heads, key_dim and value_dim must be positive, found {}, {}, {}",
                     c.heads, c.key_dim, c.value_dim);
  }
  K2T_ASSIGN_OR_RETURN(c.use_bias, config.Bool("use_bias", true));
  K2T_ASSIGN_OR_RETURN(c.use_gate, config.Bool("use_gate", false));
  K2T_ASSIGN_OR_RETURN(c.robust, config.Bool("softmax_robust_masking", false));
  K2T_ASSIGN_OR_RETURN(c.dropout, config.Float("dropout", 0.0));
  if (!config.IsNull("sliding_window")) {
    K2T_ASSIGN_OR_RETURN(c.window, config.Int("sliding_window"));
  }
  const Json& shape = config.Raw("output_shape");
  if (shape.is_number_integer()) {
    c.output_shape = {shape.get<std::int64_t>()};
  } else if (shape.is_array() && !shape.empty()) {
    K2T_ASSIGN_OR_RETURN(c.output_shape, config.IntList("output_shape"));
  } else if (!shape.is_null() && !(shape.is_array() && shape.empty())) {
    return MakeError("output_shape must be an integer or a list of integers, found {}",
                     Abbreviate(shape));
  }
  for (std::int64_t d : c.output_shape) {
    if (d <= 0) return MakeError("output_shape {} has a size that is not positive", Abbreviate(shape));
  }
  return c;
}

// The arguments of one MultiHeadAttention call, by role.
struct MhaCall {
  Arg query, value, key, attention_mask;
  Arg query_mask, value_mask, key_mask;  // what the layer uses as these masks
  bool scores = false, causal = false;
};

Expected<MhaCall> ReadMhaCall(const CallContext& call) {
  auto args = NamedArgs(call, {"query", "value", "key", "query_mask", "value_mask", "key_mask",
                               "attention_mask"});
  MhaCall m;
  m.query = args["query"];
  m.value = args["value"];
  m.key = args["key"];
  m.attention_mask = args["attention_mask"];
  if (!m.query.present() || !m.value.present()) {
    return MakeError("the call has no query or no value tensor");
  }
  m.query_mask = MaskOf(call, m.query);
  if (call.keras.major >= 3) {
    // Keras 3 takes explicit value/key masks over the tensors' own masks.
    m.value_mask = args["value_mask"].present() ? args["value_mask"] : MaskOf(call, m.value);
    m.key_mask = args["key_mask"].present() ? args["key_mask"] : MaskOf(call, m.key);
  } else {
    m.value_mask = MaskOf(call, m.value);
    m.key_mask = MaskOf(call, m.key);
  }
  m.scores = CallFlag(call, "return_attention_scores");
  m.causal = CallFlag(call, "use_causal_mask");
  return m;
}

class MultiHeadAttentionConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override {
    return {"num_heads", "key_dim", "value_dim", "dropout", "use_bias", "output_shape",
            "attention_axes", "use_gate", "sliding_window", "flash_attention",
            "query_shape", "key_shape", "value_shape", "softmax_robust_masking"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(MhaConfig c, ReadMha(call.config()));
    K2T_ASSIGN_OR_RETURN(MhaCall m, ReadMhaCall(call));
    K2T_RETURN_IF_ERROR(Check(call, m));
    const Shape query = ShapeOf(call, m.query);
    const Shape value = ShapeOf(call, m.value);
    Shape out(query.begin(), query.end() - 1);
    if (c.output_shape.empty()) {
      out.push_back(query.back());
    } else {
      out.insert(out.end(), c.output_shape.begin(), c.output_shape.end());
    }
    std::vector<Shape> shapes = {out};
    if (m.scores) shapes.push_back({query[0], c.heads, query[1], value[1]});
    return shapes;
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(MhaConfig c, ReadMha(call.config()));
    K2T_ASSIGN_OR_RETURN(MhaCall m, ReadMhaCall(call));
    const std::int64_t dq = ShapeOf(call, m.query).back();
    const std::int64_t dv = ShapeOf(call, m.value).back();
    const std::int64_t dk = m.key.present() ? ShapeOf(call, m.key).back() : dv;
    Shape out = c.output_shape.empty() ? Shape{dq} : c.output_shape;
    // Keras 3 files name the sub-layers query_dense, ... (public properties)
    // but _gate_dense; tf.keras's .keras files keep every attribute's underscore.
    const std::string u = call.keras.major >= 3 ? "" : "_";
    std::vector<WeightSpec> specs;
    auto projection = [&](const std::string& owner, Shape kernel, Shape bias) {
      const std::string group = owner[0] == '_' ? owner : u + owner;
      specs.push_back({"kernel", std::move(kernel), group});
      if (c.use_bias) specs.push_back({"bias", std::move(bias), group});
    };
    // Keras builds (and lists) them in this order.
    projection("query_dense", {dq, c.heads, c.key_dim}, {c.heads, c.key_dim});
    projection("key_dense", {dk, c.heads, c.key_dim}, {c.heads, c.key_dim});
    if (c.use_gate) projection("_gate_dense", {dq, c.heads, c.value_dim}, {c.heads, c.value_dim});
    projection("value_dense", {dv, c.heads, c.value_dim}, {c.heads, c.value_dim});
    Shape kernel = {c.heads, c.value_dim};
    kernel.insert(kernel.end(), out.begin(), out.end());
    projection("output_dense", kernel, out);
    return specs;
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(MhaConfig c, ReadMha(call.config()));
    K2T_ASSIGN_OR_RETURN(MhaCall m, ReadMhaCall(call));
    const std::int64_t dq = ShapeOf(call, m.query).back();
    const std::int64_t dv = ShapeOf(call, m.value).back();
    const std::int64_t dk = m.key.present() ? ShapeOf(call, m.key).back() : dv;
    const Shape out = c.output_shape.empty() ? Shape{dq} : c.output_shape;
    const std::int64_t out_size =
        std::accumulate(out.begin(), out.end(), std::int64_t{1}, std::multiplies<>());

    Lowering lowering;
    const std::string masking = Masking(call, c, m);
    lowering.module = fmt::format(
        "_KerasMultiHeadAttention({}, {}, {}, num_heads={}, key_dim={}, value_dim={}, "
        "output_shape={}{}{}, masking=\"{}\")",
        dq, dk, dv, c.heads, c.key_dim, c.value_dim, PyTuple(out),
        c.use_bias ? "" : ", bias=False", c.use_gate ? ", gate=True" : "", masking);
    lowering.summary = "multi-head attention";
    lowering.definitions.emplace_back("_KerasMultiHeadAttention", kMultiHeadAttentionSource);
    lowering.imports.insert("import math");
    lowering.notes.push_back(fmt::format("a query row with every key masked gets {} weights, as "
                                         "{} computes it",
                                         masking == "fill_zero" ? "zero" : "uniform",
                                         call.keras.Describe()));

    // EinsumDense kernels (d_in, heads, dim) -> nn.Linear (heads * dim, d_in),
    // head-major; the output kernel (heads, dim, out...) -> (out, heads * dim).
    int source = 0;
    auto projection = [&](const std::string& name, std::int64_t in, std::int64_t rows) {
      Param weight;
      weight.key = name + ".weight";
      weight.shape = {rows, in};
      weight.sources = {source++};
      weight.transform = [in, rows](std::vector<Tensor> s) -> Expected<Tensor> {
        return s[0].Reshape({in, rows}).Permute({1, 0});
      };
      lowering.params.push_back(std::move(weight));
      if (!c.use_bias) return;
      Param bias;
      bias.key = name + ".bias";
      bias.shape = {rows};
      bias.sources = {source++};
      bias.transform = [rows](std::vector<Tensor> s) -> Expected<Tensor> {
        return s[0].Reshape({rows});
      };
      lowering.params.push_back(std::move(bias));
    };
    projection("query", dq, c.heads * c.key_dim);
    projection("key", dk, c.heads * c.key_dim);
    if (c.use_gate) projection("gate", dq, c.heads * c.value_dim);
    projection("value", dv, c.heads * c.value_dim);
    projection("attention_output", c.heads * c.value_dim, out_size);
    // The output kernel is (heads * value_dim, out) once flattened: transpose it.
    Param& output = lowering.params[c.use_bias ? lowering.params.size() - 2
                                               : lowering.params.size() - 1];
    const std::int64_t hv = c.heads * c.value_dim;
    output.shape = {out_size, hv};
    output.transform = [hv, out_size](std::vector<Tensor> s) -> Expected<Tensor> {
      return s[0].Reshape({hv, out_size}).Permute({1, 0});
    };
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(MhaConfig c, ReadMha(call.config()));
    K2T_ASSIGN_OR_RETURN(MhaCall m, ReadMhaCall(call));
    std::vector<std::string> args;
    K2T_ASSIGN_OR_RETURN(std::string query, ArgExpression(call, emit, m.query));
    K2T_ASSIGN_OR_RETURN(std::string value, ArgExpression(call, emit, m.value));
    args = {query, value};
    const std::pair<const char*, const Arg*> named[] = {
        {"key", &m.key},               {"attention_mask", &m.attention_mask},
        {"query_mask", &m.query_mask}, {"value_mask", &m.value_mask},
        {"key_mask", &m.key_mask}};
    for (const auto& [name, arg] : named) {
      if (!arg->present()) continue;
      K2T_ASSIGN_OR_RETURN(std::string expr, ArgExpression(call, emit, *arg));
      args.push_back(fmt::format("{}={}", name, expr));
    }
    if (m.causal) args.push_back("causal=True");
    if (c.window > 0) args.push_back(fmt::format("window={}", c.window));
    if (m.scores) args.push_back("return_scores=True");
    return fmt::format("{}({})", emit.self(), Join(args, ", "));
  }

 private:
  // Which Keras computation the call follows (see the file comment).
  static std::string Masking(const CallContext& call, const MhaConfig& c, const MhaCall& m) {
    if (call.keras.major < 3) return c.robust ? "fill" : "add";
    const auto [major, minor] = KerasVersion(call.keras);
    const bool newer = major > 3 || (major == 3 && minor >= 7);
    const bool fast = newer && c.dropout == 0.0 && !m.scores && ShapeOf(call, m.query).size() == 3;
    if (fast) return "fill";
    return major > 3 || (major == 3 && minor >= 10) ? "fill_zero" : "add";
  }

  static Status Check(const CallContext& call, const MhaCall& m) {
    const Shape query = ShapeOf(call, m.query);
    const Shape value = ShapeOf(call, m.value);
    if (query.size() < 3 || value.size() != query.size()) {
      return MakeError("query and value must have the same rank, 3 or more, found {} and {}",
                       FormatShape(query), FormatShape(value));
    }
    const Json& axes = call.config().Raw("attention_axes");
    if (!axes.is_null()) {
      std::vector<std::int64_t> wanted;
      for (std::size_t a = 1; a + 1 < query.size(); ++a) wanted.push_back(static_cast<int>(a));
      std::vector<std::int64_t> found;
      for (const Json& a : axes.is_array() ? axes : Json::array({axes})) {
        if (!a.is_number_integer()) return MakeError("attention_axes {} is invalid", Abbreviate(axes));
        std::int64_t axis = a.get<std::int64_t>();
        // Keras counts negative axes on the projected (rank + 1) tensor.
        if (axis < 0) axis += static_cast<std::int64_t>(query.size());
        found.push_back(axis);
      }
      if (found != wanted) {
        return MakeError("attention_axes {} is not supported; only attention over every axis "
                         "between batch and features {} is",
                         Abbreviate(axes), FormatList(wanted));
      }
    }
    if (query.size() > 3 && (m.scores || m.causal || m.attention_mask.present())) {
      return MakeError("return_attention_scores, use_causal_mask and attention_mask are "
                       "supported for inputs of rank 3 only, found {}",
                       FormatShape(query));
    }
    return Status::Ok();
  }
};

//===----------------------------------------------------------------------===//
// Attention, AdditiveAttention

class DenseAttentionConverter : public Converter {
 public:
  explicit DenseAttentionConverter(bool additive) : additive_(additive) {}

  std::set<std::string> KnownKeys() const override {
    return {"use_scale", "score_mode", "dropout", "causal"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_RETURN_IF_ERROR(Read(call));
    const Shape& q = call.input(0).shape;
    const Shape& v = call.input(1).shape;
    const Shape& k = call.input(call.input_count() > 2 ? 2 : 1).shape;
    if (q.size() != 3 || v.size() != 3 || k.size() != 3) {
      return MakeError("expects query, value (and key) of rank 3, found {} and {}",
                       FormatShape(q), FormatShape(v));
    }
    std::vector<Shape> out = {{q[0], q[1], v[2]}};
    if (CallFlag(call, "return_attention_scores")) out.push_back({q[0], q[1], k[1]});
    return out;
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(Settings s, Read(call));
    std::vector<WeightSpec> specs;
    if (s.use_scale) {
      specs.push_back({"scale", additive_ ? Shape{call.input(0).shape.back()} : Shape{}, ""});
    }
    if (s.score == "concat") specs.push_back({"concat_score_weight", Shape{}, ""});
    return specs;
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(Settings s, Read(call));
    const std::int64_t dim = call.input(0).shape.back();
    Lowering lowering;
    lowering.module = fmt::format("_KerasAttention(\"{}\", {}, use_scale={})", s.score, dim,
                                  PyBool(s.use_scale));
    lowering.summary = additive_ ? "additive attention" : "dot-product attention";
    lowering.definitions.emplace_back("_KerasAttention", kDenseAttentionSource);
    int source = 0;
    if (s.use_scale) {
      lowering.params.push_back(CopyParam("scale", source++, additive_ ? Shape{dim} : Shape{}));
    }
    if (s.score == "concat") lowering.params.push_back(CopyParam("concat_score_weight", source, {}));
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(Settings s, Read(call));
    std::vector<std::string> args = {emit.inputs[0], emit.inputs[1]};
    if (call.input_count() > 2) args.push_back("key=" + emit.inputs[2]);
    // Keras uses the masks of the query and the value (not the key's).
    const char* names[] = {"query_mask", "value_mask"};
    for (int i = 0; i < 2; ++i) {
      const Arg mask = MaskOf(call, {call.node.inputs[static_cast<std::size_t>(i)], false,
                                     static_cast<std::size_t>(i), std::to_string(i)});
      if (!mask.present()) continue;
      args.push_back(fmt::format("{}={}", names[i], emit.tensor_kwargs.at(mask.index).second));
    }
    if (s.causal) args.push_back("causal=True");
    if (CallFlag(call, "return_attention_scores")) args.push_back("return_scores=True");
    return fmt::format("{}({})", emit.self(), Join(args, ", "));
  }

 private:
  struct Settings {
    std::string score;  // "dot", "concat" or "additive"
    bool use_scale = false;
    bool causal = false;
  };

  Expected<Settings> Read(const CallContext& call) const {
    if (call.input_count() < 2 || call.input_count() > 3) {
      return MakeError("expects [query, value] or [query, value, key], found {} input(s)",
                       call.input_count());
    }
    const ConfigReader config = call.config();
    Settings s;
    K2T_ASSIGN_OR_RETURN(s.use_scale, config.Bool("use_scale", additive_));
    s.score = "additive";
    if (!additive_) {
      K2T_ASSIGN_OR_RETURN(s.score, config.String("score_mode", "dot"));
      if (s.score != "dot" && s.score != "concat") {
        return MakeError("score_mode '{}' is not supported (dot, concat are)",
                         PrintableText(s.score));
      }
    }
    // tf.keras's deprecated constructor argument `causal`, or the call's.
    K2T_ASSIGN_OR_RETURN(bool causal, config.Bool("causal", false));
    s.causal = causal || CallFlag(call, "use_causal_mask");
    return s;
  }

  bool additive_;
};

//===----------------------------------------------------------------------===//
// EinsumDense

struct Einsum {
  std::string equation;
  std::vector<std::string> parts;  // input, kernel, output subscripts
  Shape kernel, bias, output;      // output: Keras shape including batch
  bool has_bias = false;
};

// Sizes of the subscripts of `spec` laid over `shape` ("..." takes the rest).
Expected<std::map<char, std::int64_t>> SubscriptSizes(const std::string& spec, const Shape& shape,
                                                      Shape* elided) {
  std::map<char, std::int64_t> sizes;
  const auto dots = spec.find("...");
  const std::string left = dots == std::string::npos ? spec : spec.substr(0, dots);
  const std::string right = dots == std::string::npos ? "" : spec.substr(dots + 3);
  if (left.size() + right.size() > shape.size() ||
      (dots == std::string::npos && spec.size() != shape.size())) {
    return MakeError("input subscripts '{}' do not fit a tensor of shape {}",
                     PrintableText(spec), FormatShape(shape));
  }
  for (std::size_t i = 0; i < left.size(); ++i) sizes[left[i]] = shape[i];
  for (std::size_t i = 0; i < right.size(); ++i) {
    sizes[right[i]] = shape[shape.size() - right.size() + i];
  }
  if (elided) elided->assign(shape.begin() + static_cast<long>(left.size()),
                             shape.end() - static_cast<long>(right.size()));
  return sizes;
}

Expected<Einsum> ReadEinsum(const CallContext& call) {
  const ConfigReader config = call.config();
  Einsum e;
  K2T_ASSIGN_OR_RETURN(e.equation, config.String("equation", ""));
  K2T_ASSIGN_OR_RETURN(e.parts, SplitEquation(e.equation));
  const std::string& in = e.parts[0];
  const std::string& kernel = e.parts[1];
  const std::string& out = e.parts[2];
  if (kernel.find('.') != std::string::npos) {
    return MakeError("equation '{}' elides kernel axes, which is not supported",
                     PrintableText(e.equation));
  }
  Shape elided;
  K2T_ASSIGN_OR_RETURN(auto sizes, SubscriptSizes(in, call.input().shape, &elided));

  // The configured output shape (batch excluded) sizes the output subscripts
  // that the input does not have; it lines up with the subscripts' right end.
  const Json& raw = config.Raw("output_shape");
  std::vector<std::optional<std::int64_t>> configured;
  for (const Json& d : raw.is_array() ? raw : Json::array({raw})) {
    if (d.is_number_integer()) {
      configured.emplace_back(d.get<std::int64_t>());
    } else if (d.is_null()) {
      configured.emplace_back();
    } else {
      return MakeError("output_shape {} is invalid", Abbreviate(raw));
    }
  }
  std::string out_letters;
  for (char ch : out) {
    if (ch != '.') out_letters.push_back(ch);
  }
  for (std::size_t i = 0; i < out_letters.size(); ++i) {
    const char ch = out_letters[out_letters.size() - 1 - i];
    if (sizes.count(ch)) continue;
    if (i >= configured.size() || !configured[configured.size() - 1 - i]) {
      return MakeError("the size of output subscript '{}' is unknown", ch);
    }
    sizes[ch] = *configured[configured.size() - 1 - i];
  }
  for (char ch : kernel) {
    if (!sizes.count(ch)) return MakeError("kernel subscript '{}' has no size", ch);
    e.kernel.push_back(sizes[ch]);
  }
  const auto dots = out.find("...");
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (dots != std::string::npos && i == dots) {
      e.output.insert(e.output.end(), elided.begin(), elided.end());
      i += 2;
      continue;
    }
    e.output.push_back(sizes[out[i]]);
  }

  // Bias: from the first bias axis to the end of the output, 1 where an axis
  // is not a bias axis (Keras broadcasts it on the right).
  const Json& bias_axes = config.Raw("bias_axes");
  if (bias_axes.is_string() && !bias_axes.get<std::string>().empty()) {
    const std::string axes = bias_axes.get<std::string>();
    std::size_t first = out_letters.size();
    for (char ch : axes) {
      const auto at = out_letters.find(ch);
      if (at == std::string::npos) {
        return MakeError("bias axis '{}' is not an output subscript of '{}'", ch,
                         PrintableText(e.equation));
      }
      first = std::min(first, at);
    }
    for (std::size_t i = first; i < out_letters.size(); ++i) {
      e.bias.push_back(axes.find(out_letters[i]) != std::string::npos ? sizes[out_letters[i]] : 1);
    }
    e.has_bias = true;
  }
  return e;
}

class EinsumDenseConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override {
    return {"equation", "output_shape", "activation", "bias_axes", "lora_rank", "lora_alpha",
            "quantization_config", "gptq_unpacked_column_size"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(Einsum e, ReadEinsum(call));
    K2T_ASSIGN_OR_RETURN(std::string activation, ActivationName(call.config().Raw("activation")));
    K2T_ASSIGN_OR_RETURN(Shape out, ActivationShape(activation, e.output));
    return std::vector<Shape>{out};
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(Einsum e, ReadEinsum(call));
    std::vector<WeightSpec> specs = {{"kernel", e.kernel, ""}};
    if (e.has_bias) specs.push_back({"bias", e.bias, ""});
    return specs;
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(Einsum e, ReadEinsum(call));
    Lowering lowering;
    lowering.module = fmt::format("_KerasEinsumDense({}, {}, {})", PythonString(e.equation),
                                  PyTuple(e.kernel), e.has_bias ? PyTuple(e.bias) : "None");
    lowering.summary = "torch.einsum";
    lowering.definitions.emplace_back("_KerasEinsumDense", kEinsumDenseSource);
    lowering.params.push_back(CopyParam("kernel", 0, e.kernel));
    if (e.has_bias) lowering.params.push_back(CopyParam("bias", 1, e.bias));
    K2T_ASSIGN_OR_RETURN(std::string activation, ActivationName(call.config().Raw("activation")));
    K2T_RETURN_IF_ERROR(
        ActivationExpression(activation, "x", call.keras, LastAxisDim(call.output()), &lowering));
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(std::string activation, ActivationName(call.config().Raw("activation")));
    return ActivationExpression(activation, fmt::format("{}({})", emit.self(), emit.inputs[0]),
                                call.keras, LastAxisDim(call.output()), nullptr);
  }
};

//===----------------------------------------------------------------------===//
// Dot

class DotConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override { return {"axes", "normalize"}; }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(Plan p, Read(call));
    return std::vector<Shape>{p.output};
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(Plan p, Read(call));
    Lowering lowering;
    lowering.summary = "torch.einsum (batched dot)";
    if (p.normalize) {
      lowering.notes.push_back(fmt::format("L2 normalisation with the epsilon of {}",
                                           call.keras.Describe()));
    }
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(Plan p, Read(call));
    std::string a = emit.inputs[0];
    std::string b = emit.inputs[1];
    if (p.normalize) {
      // Keras 3: x * min(rsqrt(sum x^2), 1e7); tf.keras: x * rsqrt(max(sum x^2, 1e-12)):
      // F.normalize's max(norm, eps) with eps 1e-7 and 1e-6.
      const char* eps = call.keras.major >= 3 ? "1e-07" : "1e-06";
      a = fmt::format("F.normalize({}, dim={}, eps={})", a, p.axes[0], eps);
      b = fmt::format("F.normalize({}, dim={}, eps={})", b, p.axes[1], eps);
    }
    std::string expr = fmt::format("torch.einsum(\"{}\", {}, {})", p.equation, a, b);
    // A result of rank 1 becomes (batch, 1), as in Keras.
    if (p.output.size() == 2 && p.output[1] == 1 && p.scalar) expr += ".unsqueeze(-1)";
    return expr;
  }

 private:
  struct Plan {
    std::array<int, 2> axes{};
    bool normalize = false;
    std::string equation;
    Shape output;
    bool scalar = false;  // the einsum gives (batch,)
  };

  static Expected<Plan> Read(const CallContext& call) {
    if (call.input_count() != 2) return MakeError("expects 2 inputs, found {}", call.input_count());
    const Shape& x = call.input(0).shape;
    const Shape& y = call.input(1).shape;
    const int rx = static_cast<int>(x.size());
    const int ry = static_cast<int>(y.size());
    if (rx < 2 || ry < 2 || rx + ry > 20) {
      return MakeError("expects inputs of rank 2 or more, found {} and {}", FormatShape(x),
                       FormatShape(y));
    }
    Plan p;
    const Json& axes = call.config().Raw("axes");
    if (axes.is_number_integer()) {
      p.axes = {axes.get<int>(), axes.get<int>()};
    } else if (axes.is_array() && axes.size() == 2 && axes[0].is_number_integer() &&
               axes[1].is_number_integer()) {
      p.axes = {axes[0].get<int>(), axes[1].get<int>()};
    } else {
      return MakeError("axes must be an integer or a pair of integers, found {}", Abbreviate(axes));
    }
    if (p.axes[0] < 0) p.axes[0] += rx;
    if (p.axes[1] < 0) p.axes[1] += ry;
    if (p.axes[0] <= 0 || p.axes[0] >= rx || p.axes[1] <= 0 || p.axes[1] >= ry) {
      return MakeError("axes {} are out of range for inputs {} and {}", Abbreviate(axes),
                       FormatShape(x), FormatShape(y));
    }
    const std::int64_t dx = x[static_cast<std::size_t>(p.axes[0])];
    const std::int64_t dy = y[static_cast<std::size_t>(p.axes[1])];
    if (dx >= 0 && dy >= 0 && dx != dy) {
      return MakeError("the dot axes have sizes {} and {}", dx, dy);
    }
    K2T_ASSIGN_OR_RETURN(p.normalize, call.config().Bool("normalize", false));

    // Subscripts: 'a' the batch, 'z' the summed axis, others in order.
    std::string sx = "a", sy = "a", out = "a";
    char next = 'b';
    for (int i = 1; i < rx; ++i) {
      if (i == p.axes[0]) {
        sx += 'z';
        continue;
      }
      sx += next;
      out += next++;
      p.output.push_back(x[static_cast<std::size_t>(i)]);
    }
    for (int i = 1; i < ry; ++i) {
      if (i == p.axes[1]) {
        sy += 'z';
        continue;
      }
      sy += next;
      out += next++;
      p.output.push_back(y[static_cast<std::size_t>(i)]);
    }
    p.output.insert(p.output.begin(), x[0]);
    p.scalar = p.output.size() == 1;
    if (p.scalar) p.output.push_back(1);
    p.equation = sx + "," + sy + "->" + out;
    return p;
  }
};

}  // namespace

void RegisterAttentionLayers(Registry& registry) {
  registry.Add("MultiHeadAttention", std::make_shared<MultiHeadAttentionConverter>());
  registry.Add("Attention", std::make_shared<DenseAttentionConverter>(false));
  registry.Add("AdditiveAttention", std::make_shared<DenseAttentionConverter>(true));
  registry.Add("EinsumDense", std::make_shared<EinsumDenseConverter>());
  registry.Add("Dot", std::make_shared<DotConverter>());
}

}  // namespace k2t::layers
