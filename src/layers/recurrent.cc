//===- layers/recurrent.cc - LSTM, GRU, SimpleRNN, Bidirectional ------------===//
//
// Where PyTorch's fused modules compute exactly what Keras does, the layer is
// one nn.LSTM / nn.GRU / nn.RNN line: tanh activation, sigmoid gates, no mask,
// and for GRU reset_after=True (Keras's gate order z, r, h becomes PyTorch's
// r, z, n). Otherwise (hard_sigmoid gates of Keras 1/2, other activations,
// GRU with reset_after=False, masks) a readable step-by-step module
// reproduces Keras's recurrence exactly, weights kept in Keras's layout.
//
// Keras semantics reproduced: go_backwards returns the reversed sequence
// as it was processed (not flipped back); at a masked step the state is
// kept and the output repeats the previous output; return_state appends the
// final states (LSTM: h, c).
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include <map>

#include "layers/activation_functions.h"
#include "layers/registry.h"
#include "layers/weights_transform.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

// The explicit recurrence, shared by every layer that needs it.
constexpr const char* kKerasRnnSource = R"(class _KerasRNN(nn.Module):
    """A Keras recurrent layer computed step by step, exactly as Keras does:
    LSTM (gates i, f, c, o), GRU (gates z, r, h; reset before or after the
    recurrent product) or SimpleRNN, any activations, masks, go_backwards.
    Weights are in Keras's layout: kernel (in, G*units), recurrent_kernel
    (units, G*units)."""

    ACTIVATIONS = {
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "relu": F.relu,
        "linear": lambda x: x,
        "hard_sigmoid": F.hardsigmoid,  # Keras 3: relu6(x + 3) / 6
        "hard_sigmoid_keras2": lambda x: torch.clamp(0.2 * x + 0.5, 0.0, 1.0),
        "elu": F.elu,
        "selu": F.selu,
        "softsign": F.softsign,
        "softplus": F.softplus,
        "swish": F.silu,
        "silu": F.silu,
        "gelu": F.gelu,
        "exponential": torch.exp,
    }

    def __init__(self, cell: str, input_size: int, units: int, activation: str,
                 recurrent_activation: str, use_bias: bool, reset_after: bool,
                 go_backwards: bool, return_sequences: bool, zero_output_for_mask: bool) -> None:
        super().__init__()
        gates = {"lstm": 4, "gru": 3, "simple_rnn": 1}[cell]
        self.cell, self.units, self.reset_after = cell, units, reset_after
        self.go_backwards, self.return_sequences = go_backwards, return_sequences
        self.zero_output_for_mask = zero_output_for_mask
        self.activation = self.ACTIVATIONS[activation]
        self.recurrent_activation = self.ACTIVATIONS[recurrent_activation]
        self.kernel = nn.Parameter(torch.empty(input_size, gates * units))
        self.recurrent_kernel = nn.Parameter(torch.empty(units, gates * units))
        bias_shape = (2, gates * units) if cell == "gru" and reset_after else (gates * units,)
        self.bias = nn.Parameter(torch.empty(bias_shape)) if use_bias else None

    def step(self, x, states):
        if self.cell == "simple_rnn":
            z = x @ self.kernel + states[0] @ self.recurrent_kernel
            h = self.activation(z if self.bias is None else z + self.bias)
            return h, [h]
        if self.cell == "lstm":
            h, c = states
            z = x @ self.kernel + h @ self.recurrent_kernel
            if self.bias is not None:
                z = z + self.bias
            i, f, g, o = z.chunk(4, dim=-1)
            c = self.recurrent_activation(f) * c + self.recurrent_activation(i) * self.activation(g)
            h = self.recurrent_activation(o) * self.activation(c)
            return h, [h, c]
        h = states[0]
        input_bias = recurrent_bias = None
        if self.bias is not None:
            input_bias, recurrent_bias = (self.bias[0], self.bias[1]) if self.reset_after else (
                self.bias, None)
        x_proj = x @ self.kernel if input_bias is None else x @ self.kernel + input_bias
        x_z, x_r, x_h = x_proj.chunk(3, dim=-1)
        k_z, k_r, k_h = self.recurrent_kernel.chunk(3, dim=-1)
        if self.reset_after:
            inner = h @ self.recurrent_kernel
            if recurrent_bias is not None:
                inner = inner + recurrent_bias
            r_z, r_r, r_h = inner.chunk(3, dim=-1)
            z = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            candidate = self.activation(x_h + r * r_h)
        else:
            z = self.recurrent_activation(x_z + h @ k_z)
            r = self.recurrent_activation(x_r + h @ k_r)
            candidate = self.activation(x_h + (r * h) @ k_h)
        h = z * h + (1 - z) * candidate
        return h, [h]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                initial_state: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
        """Returns [output, *final_states]; output is the sequence or the last step."""
        batch, steps = x.shape[0], x.shape[1]
        count = 2 if self.cell == "lstm" else 1
        states = list(initial_state) if initial_state else [
            x.new_zeros(batch, self.units) for _ in range(count)]
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        previous = x.new_zeros(batch, self.units)
        outputs = []
        for t in order:
            output, new_states = self.step(x[:, t], states)
            if mask is not None:
                keep = mask[:, t].unsqueeze(-1)
                states = [torch.where(keep, n, s) for n, s in zip(new_states, states)]
                output = torch.where(keep, output, 0.0 if self.zero_output_for_mask else previous)
            else:
                states = new_states
            previous = output
            outputs.append(output)
        result = torch.stack(outputs, dim=1) if self.return_sequences else previous
        return [result, *states]
)";

enum class Cell { kLSTM, kGRU, kSimpleRNN };

int Gates(Cell cell) { return cell == Cell::kLSTM ? 4 : cell == Cell::kGRU ? 3 : 1; }
const char* CellName(Cell cell) {
  return cell == Cell::kLSTM ? "lstm" : cell == Cell::kGRU ? "gru" : "simple_rnn";
}

struct RnnConfig {
  Cell cell = Cell::kLSTM;
  std::int64_t units = 0;
  std::string activation = "tanh";
  std::string recurrent_activation = "sigmoid";
  bool use_bias = true;
  bool reset_after = true;
  bool return_sequences = false;
  bool return_state = false;
  bool go_backwards = false;
};

// Keras 2.0-2.3 and Keras 1 default to hard_sigmoid gates and GRU
// reset_after=False; tf.keras 2 and Keras 3 to sigmoid and True. A config
// usually records the value; the defaults matter for old files that do not.
Expected<RnnConfig> ReadRnn(const ConfigReader& config, Cell cell, const config::KerasInfo& keras) {
  RnnConfig c;
  c.cell = cell;
  K2T_ASSIGN_OR_RETURN(c.units, config.Int("units"));
  K2T_ASSIGN_OR_RETURN(c.activation, ActivationName(config.Raw("activation")));
  if (config.IsNull("activation") && !config.Has("activation")) c.activation = "tanh";
  const bool old_keras = keras.major == 1 || (keras.major == 2 && !keras.tf_keras);
  if (cell != Cell::kSimpleRNN) {
    const Json& raw = config.Raw("recurrent_activation");
    if (raw.is_null()) {
      c.recurrent_activation = old_keras ? "hard_sigmoid" : "sigmoid";
    } else {
      K2T_ASSIGN_OR_RETURN(c.recurrent_activation, ActivationName(raw));
    }
  }
  K2T_ASSIGN_OR_RETURN(c.use_bias, config.Bool("use_bias", true));
  K2T_ASSIGN_OR_RETURN(c.reset_after, config.Bool("reset_after", !old_keras));
  if (cell != Cell::kGRU) c.reset_after = false;
  K2T_ASSIGN_OR_RETURN(c.return_sequences, config.Bool("return_sequences", false));
  K2T_ASSIGN_OR_RETURN(c.return_state, config.Bool("return_state", false));
  K2T_ASSIGN_OR_RETURN(c.go_backwards, config.Bool("go_backwards", false));
  K2T_ASSIGN_OR_RETURN(bool stateful, config.Bool("stateful", false));
  if (stateful) {
    return MakeError("stateful=True keeps state between batches, which a converted module "
                     "does not do; re-save the model with stateful=False");
  }
  K2T_ASSIGN_OR_RETURN(bool time_major, config.Bool("time_major", false));
  if (time_major) return MakeError("time_major=True is not supported");
  if (c.units <= 0) return MakeError("units must be positive, found {}", c.units);
  return c;
}

// The activation as the _KerasRNN helper names it.
Expected<std::string> HelperActivation(const std::string& name, const config::KerasInfo& keras) {
  static const std::set<std::string> known = {"tanh", "sigmoid", "relu", "linear", "elu",
                                              "selu", "softsign", "softplus", "swish", "silu",
                                              "gelu", "exponential", "hard_sigmoid"};
  if (!known.count(name)) {
    return MakeError("activation '{}' is not supported in a recurrent layer", name);
  }
  if (name == "hard_sigmoid" && keras.major < 3) return std::string("hard_sigmoid_keras2");
  return name;
}

// True when PyTorch's fused module computes exactly what Keras does.
bool Fused(const RnnConfig& c, bool masked) {
  if (masked) return false;
  if (c.cell == Cell::kSimpleRNN) return c.activation == "tanh" || c.activation == "relu";
  if (c.activation != "tanh" || c.recurrent_activation != "sigmoid") return false;
  return c.cell == Cell::kLSTM || c.reset_after;
}

std::string FusedModule(const RnnConfig& c, std::int64_t in, bool bidirectional) {
  std::string module;
  if (c.cell == Cell::kLSTM) module = fmt::format("nn.LSTM({}, {}", in, c.units);
  if (c.cell == Cell::kGRU) module = fmt::format("nn.GRU({}, {}", in, c.units);
  if (c.cell == Cell::kSimpleRNN) {
    module = fmt::format("nn.RNN({}, {}", in, c.units);
    if (c.activation == "relu") module += ", nonlinearity=\"relu\"";
  }
  module += ", batch_first=True";
  if (!c.use_bias) module += ", bias=False";
  if (bidirectional) module += ", bidirectional=True";
  return module + ")";
}

// Keras gate blocks along `axis` reordered for PyTorch: GRU z, r, h -> r, z, n.
Tensor ReorderGates(const Tensor& t, Cell cell, int axis) {
  if (cell != Cell::kGRU) return t;
  const std::int64_t block = t.shape()[static_cast<std::size_t>(axis)] / 3;
  return Tensor::Concat({t.Slice(axis, block, block), t.Slice(axis, 0, block),
                         t.Slice(axis, 2 * block, block)},
                        axis);
}

// The fused module's parameters for one direction ("" or "_reverse"), from
// Keras weights starting at index `first` (kernel, recurrent_kernel, bias).
void FusedParams(const RnnConfig& c, std::int64_t in, int first, const std::string& suffix,
                 std::vector<Param>& params) {
  const std::int64_t g = Gates(c.cell) * c.units;
  const Cell cell = c.cell;
  auto matrix = [&](const std::string& key, int source, std::int64_t cols) {
    Param p;
    p.key = key + suffix;
    p.shape = {g, cols};
    p.sources = {source};
    // (in, G*U) -> (G*U, in), gates reordered along the G*U axis.
    p.transform = [cell](std::vector<Tensor> s) -> Expected<Tensor> {
      return ReorderGates(s[0], cell, 1).Permute({1, 0});
    };
    params.push_back(std::move(p));
  };
  matrix("weight_ih_l0", first, in);
  matrix("weight_hh_l0", first + 1, c.units);
  if (!c.use_bias) return;
  // Keras has one bias (LSTM, SimpleRNN: PyTorch's second one is zero) or,
  // for GRU with reset_after, an input row and a recurrent row.
  const bool two_rows = c.cell == Cell::kGRU && c.reset_after;
  for (int row = 0; row < 2; ++row) {
    Param p;
    p.key = (row == 0 ? "bias_ih_l0" : "bias_hh_l0") + suffix;
    p.shape = {g};
    if (row == 1 && !two_rows) {
      p.transform = [g](std::vector<Tensor>) -> Expected<Tensor> {
        return Tensor(DType::kF32, {g});
      };
    } else {
      p.sources = {first + 2};
      p.transform = [cell, two_rows, row, g](std::vector<Tensor> s) -> Expected<Tensor> {
        Tensor bias = two_rows ? s[0].Slice(0, row, 1).Reshape({g}) : s[0];
        return ReorderGates(bias, cell, 0);
      };
    }
    params.push_back(std::move(p));
  }
}

// Parameters of the _KerasRNN helper: Keras's own weights, unchanged.
void LoopParams(const RnnConfig& c, std::int64_t in, int first, const std::string& prefix,
                std::vector<Param>& params) {
  const std::int64_t g = Gates(c.cell) * c.units;
  params.push_back(CopyParam(prefix + "kernel", first, {in, g}));
  params.push_back(CopyParam(prefix + "recurrent_kernel", first + 1, {c.units, g}));
  if (!c.use_bias) return;
  const Shape bias = (c.cell == Cell::kGRU && c.reset_after) ? Shape{2, g} : Shape{g};
  params.push_back(CopyParam(prefix + "bias", first + 2, bias));
}

Expected<std::string> LoopModule(const RnnConfig& c, std::int64_t in,
                                 const config::KerasInfo& keras, bool go_backwards,
                                 bool return_sequences, bool zero_output_for_mask) {
  K2T_ASSIGN_OR_RETURN(std::string activation, HelperActivation(c.activation, keras));
  K2T_ASSIGN_OR_RETURN(std::string recurrent,
                       HelperActivation(c.recurrent_activation, keras));
  return fmt::format(
      "_KerasRNN(\"{}\", {}, {}, \"{}\", \"{}\", use_bias={}, reset_after={}, "
      "go_backwards={}, return_sequences={}, zero_output_for_mask={})",
      CellName(c.cell), in, c.units, activation, recurrent, c.use_bias ? "True" : "False",
      c.reset_after ? "True" : "False", go_backwards ? "True" : "False",
      return_sequences ? "True" : "False", zero_output_for_mask ? "True" : "False");
}

std::vector<WeightSpec> CellWeights(const RnnConfig& c, std::int64_t in, const std::string& owner) {
  const std::int64_t g = Gates(c.cell) * c.units;
  std::vector<WeightSpec> specs = {{"kernel", {in, g}, owner},
                                   {"recurrent_kernel", {c.units, g}, owner}};
  if (c.use_bias) {
    const Shape bias = (c.cell == Cell::kGRU && c.reset_after) ? Shape{2, g} : Shape{g};
    specs.push_back({"bias", bias, owner});
  }
  return specs;
}

int StateCount(const RnnConfig& c) { return c.cell == Cell::kLSTM ? 2 : 1; }

// The tensors a call passes as initial_state, in order.
std::vector<std::string> InitialStates(const EmitContext& emit) {
  std::vector<std::string> states;
  for (const auto& [key, value] : emit.tensor_kwargs) {
    if (key == "initial_state") states.push_back(value);
  }
  return states;
}

std::string MaskOf(const EmitContext& emit) {
  for (const auto& [key, value] : emit.tensor_kwargs) {
    if (key == "mask") return value;
  }
  return "";
}

bool Masked(const CallContext& call) {
  for (const auto& [key, value] : call.node.tensor_kwargs) {
    if (key == "mask") return true;
  }
  return false;
}

// Positional inputs after the sequence are initial states (Keras 2 passes
// them as extra inputs of the call).
std::vector<std::string> StateInputs(const EmitContext& emit) {
  std::vector<std::string> states(emit.inputs.begin() + 1, emit.inputs.end());
  const auto keyword = InitialStates(emit);
  states.insert(states.end(), keyword.begin(), keyword.end());
  return states;
}

class RnnConverter : public Converter {
 public:
  explicit RnnConverter(Cell cell) : cell_(cell) {}

  std::set<std::string> KnownKeys() const override {
    return {"units", "activation", "recurrent_activation", "use_bias", "return_sequences",
            "return_state", "go_backwards", "stateful", "unroll", "time_major", "reset_after",
            "implementation", "dropout", "recurrent_dropout", "unit_forget_bias",
            "recurrent_initializer", "recurrent_regularizer", "recurrent_constraint",
            "zero_output_for_mask", "use_cudnn", "seed"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(RnnConfig c, ReadRnn(call.config(), cell_, call.keras));
    const Shape& in = call.input().shape;
    if (in.size() != 3) return MakeError("expects (batch, time, features), found {}", FormatShape(in));
    std::vector<Shape> out = {c.return_sequences ? Shape{in[0], in[1], c.units}
                                                 : Shape{in[0], c.units}};
    if (c.return_state) {
      for (int s = 0; s < StateCount(c); ++s) out.push_back({in[0], c.units});
    }
    return out;
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(RnnConfig c, ReadRnn(call.config(), cell_, call.keras));
    return CellWeights(c, call.input().shape.back(), "cell");
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(RnnConfig c, ReadRnn(call.config(), cell_, call.keras));
    const std::int64_t in = call.input().shape.back();
    Lowering lowering;
    if (Fused(c, Masked(call))) {
      lowering.module = FusedModule(c, in, false);
      lowering.summary = lowering.module.substr(0, lowering.module.find('('));
      FusedParams(c, in, 0, "", lowering.params);
      if (c.cell == Cell::kGRU) lowering.notes.push_back("gates reordered z, r, h -> r, z, n");
      return lowering;
    }
    K2T_ASSIGN_OR_RETURN(lowering.module,
                         LoopModule(c, in, call.keras, c.go_backwards, c.return_sequences,
                                    call.config().Bool("zero_output_for_mask", false).value_or(false)));
    lowering.summary = "step-by-step recurrence";
    lowering.definitions.emplace_back("_KerasRNN", kKerasRnnSource);
    lowering.notes.push_back(LoopReason(c, Masked(call)));
    LoopParams(c, in, 0, "", lowering.params);
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(RnnConfig c, ReadRnn(call.config(), cell_, call.keras));
    if (c.return_state) return MakeError("internal error: states need statements");
    const std::string run = Run(c, call, emit);
    if (!Fused(c, Masked(call))) return run + "[0]";
    return c.return_sequences ? run + "[0]" : run + "[0][:, -1]";
  }

  bool UsesStatements(const CallContext& call) const override {
    return call.config().Bool("return_state", false).value_or(false);
  }

  Expected<std::vector<std::string>> EmitStatements(
      const CallContext& call, const EmitContext& emit,
      const std::vector<std::string>& targets) const override {
    K2T_ASSIGN_OR_RETURN(RnnConfig c, ReadRnn(call.config(), cell_, call.keras));
    const std::string run = Run(c, call, emit);
    if (!Fused(c, Masked(call))) {
      return std::vector<std::string>{Join(targets, ", ") + " = " + run};
    }
    // nn.LSTM returns (sequence, (h_n, c_n)) with a leading layer axis on the states.
    const std::string& out = targets[0];
    std::vector<std::string> lines;
    if (c.cell == Cell::kLSTM) {
      lines.push_back(fmt::format("{}, ({}, {}) = {}", out, targets[1], targets[2], run));
      lines.push_back(fmt::format("{0}, {1} = {0}[0], {1}[0]", targets[1], targets[2]));
    } else {
      lines.push_back(fmt::format("{}, {} = {}", out, targets[1], run));
      lines.push_back(fmt::format("{0} = {0}[0]", targets[1]));
    }
    if (!c.return_sequences) lines.push_back(fmt::format("{0} = {0}[:, -1]", out));
    return lines;
  }

 private:
  static std::string LoopReason(const RnnConfig& c, bool masked) {
    if (masked) return "masked sequence: explicit recurrence (PyTorch's module cannot skip steps)";
    if (c.cell == Cell::kGRU && !c.reset_after) {
      return "GRU with reset_after=False: explicit recurrence (nn.GRU resets after)";
    }
    return fmt::format("activations {} / {}: explicit recurrence (nn modules use tanh/sigmoid)",
                       c.activation, c.recurrent_activation);
  }

  // The call of the module on the (possibly reversed) input.
  std::string Run(const RnnConfig& c, const CallContext& call, const EmitContext& emit) const {
    const std::vector<std::string> states = StateInputs(emit);
    if (!Fused(c, Masked(call))) {
      std::string args = emit.inputs[0];
      const std::string mask = MaskOf(emit);
      if (!mask.empty()) args += ", mask=" + mask;
      if (!states.empty()) args += ", initial_state=[" + Join(states, ", ") + "]";
      return fmt::format("{}({})", emit.self(), args);
    }
    const std::string x = c.go_backwards ? emit.inputs[0] + ".flip(1)" : emit.inputs[0];
    if (states.empty()) return fmt::format("{}({})", emit.self(), x);
    std::vector<std::string> batched;
    for (const std::string& s : states) batched.push_back(s + ".unsqueeze(0)");
    if (c.cell == Cell::kLSTM && batched.size() == 2) {
      return fmt::format("{}({}, ({}, {}))", emit.self(), x, batched[0], batched[1]);
    }
    return fmt::format("{}({}, {})", emit.self(), x, batched[0]);
  }

  Cell cell_;
};

// Bidirectional: a forward copy and a backward copy (go_backwards) of the
// wrapped layer, whose outputs are merged (concat, sum, ave, mul or kept apart).
class BidirectionalConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override {
    return {"layer", "backward_layer", "merge_mode", "weights"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(Parts p, Read(call));
    const Shape& in = call.input().shape;
    if (in.size() != 3) return MakeError("expects (batch, time, features), found {}", FormatShape(in));
    const std::int64_t u = p.forward.units;
    const std::int64_t width = p.merge == "concat" ? u + p.backward.units : u;
    std::vector<Shape> out;
    const auto one = [&](std::int64_t w) {
      return p.forward.return_sequences ? Shape{in[0], in[1], w} : Shape{in[0], w};
    };
    if (p.merge.empty()) {
      out = {one(u), one(p.backward.units)};
    } else {
      out = {one(width)};
    }
    if (p.forward.return_state) {
      for (int s = 0; s < 2 * StateCount(p.forward); ++s) out.push_back({in[0], u});
    }
    return out;
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(Parts p, Read(call));
    const std::int64_t in = call.input().shape.back();
    auto specs = CellWeights(p.forward, in, "forward_layer/cell");
    for (auto& spec : CellWeights(p.backward, in, "backward_layer/cell")) specs.push_back(spec);
    return specs;
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(Parts p, Read(call));
    const std::int64_t in = call.input().shape.back();
    const int weights = static_cast<int>(CellWeights(p.forward, in, "").size());
    Lowering lowering;
    if (UseFused(p, call)) {
      lowering.module = FusedModule(p.forward, in, true);
      lowering.summary = lowering.module.substr(0, lowering.module.find('(')) + " (bidirectional)";
      FusedParams(p.forward, in, 0, "", lowering.params);
      FusedParams(p.backward, in, weights, "_reverse", lowering.params);
      return lowering;
    }
    // Inside Bidirectional, Keras zeroes the outputs of masked steps.
    const bool zero_masked = p.forward.return_sequences;
    K2T_ASSIGN_OR_RETURN(std::string forward,
                         LoopModule(p.forward, in, call.keras, false, p.forward.return_sequences,
                                    zero_masked));
    K2T_ASSIGN_OR_RETURN(std::string backward,
                         LoopModule(p.backward, in, call.keras, true, p.backward.return_sequences,
                                    zero_masked));
    lowering.module = fmt::format("nn.ModuleDict({{\n            \"forward_layer\": {},\n            "
                                  "\"backward_layer\": {},\n        }})",
                                  forward, backward);
    lowering.summary = "two step-by-step recurrences";
    lowering.definitions.emplace_back("_KerasRNN", kKerasRnnSource);
    LoopParams(p.forward, in, 0, "forward_layer.", lowering.params);
    LoopParams(p.backward, in, weights, "backward_layer.", lowering.params);
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext&, const EmitContext&) const override {
    return MakeError("internal error: Bidirectional emits statements");
  }

  bool UsesStatements(const CallContext&) const override { return true; }

  Expected<std::vector<std::string>> EmitStatements(
      const CallContext& call, const EmitContext& emit,
      const std::vector<std::string>& targets) const override {
    K2T_ASSIGN_OR_RETURN(Parts p, Read(call));
    const bool sequences = p.forward.return_sequences;
    const int states = StateCount(p.forward);
    std::vector<std::string> lines;
    std::string fwd, bwd;
    std::vector<std::string> fwd_states, bwd_states;
    if (UseFused(p, call)) {
      // nn.LSTM(bidirectional) aligns the backward outputs in time; its final
      // states are (2, N, U): forward then backward.
      const std::string seq = emit.temporary(targets[0] + "_seq");
      const std::string h = emit.temporary(targets[0] + "_h");
      if (p.forward.cell == Cell::kLSTM) {
        const std::string c = emit.temporary(targets[0] + "_c");
        lines.push_back(fmt::format("{}, ({}, {}) = {}({})", seq, h, c, emit.self(), emit.inputs[0]));
        fwd_states = {h + "[0]", c + "[0]"};
        bwd_states = {h + "[1]", c + "[1]"};
      } else {
        lines.push_back(fmt::format("{}, {} = {}({})", seq, h, emit.self(), emit.inputs[0]));
        fwd_states = {h + "[0]"};
        bwd_states = {h + "[1]"};
      }
      const std::int64_t u = p.forward.units;
      fwd = sequences ? fmt::format("{}[..., :{}]", seq, u) : fmt::format("{}[:, -1, :{}]", seq, u);
      bwd = sequences ? fmt::format("{}[..., {}:]", seq, u) : bwd_states[0];
    } else {
      std::string args = emit.inputs[0];
      const std::string mask = MaskOf(emit);
      if (!mask.empty()) args += ", mask=" + mask;
      const std::string forward = emit.temporary(targets[0] + "_fwd");
      const std::string backward = emit.temporary(targets[0] + "_bwd");
      lines.push_back(fmt::format("{} = {}[\"forward_layer\"]({})", forward, emit.self(), args));
      lines.push_back(fmt::format("{} = {}[\"backward_layer\"]({})", backward, emit.self(), args));
      fwd = forward + "[0]";
      // The backward pass returns its sequence reversed; Keras flips it back.
      bwd = sequences ? backward + "[0].flip(1)" : backward + "[0]";
      for (int s = 0; s < states; ++s) {
        fwd_states.push_back(fmt::format("{}[{}]", forward, s + 1));
        bwd_states.push_back(fmt::format("{}[{}]", backward, s + 1));
      }
    }
    std::vector<std::string> outputs;
    if (p.merge == "concat") outputs = {fmt::format("torch.cat([{}, {}], dim=-1)", fwd, bwd)};
    if (p.merge == "sum") outputs = {fmt::format("{} + {}", fwd, bwd)};
    if (p.merge == "mul") outputs = {fmt::format("{} * {}", fwd, bwd)};
    if (p.merge == "ave") outputs = {fmt::format("({} + {}) / 2", fwd, bwd)};
    if (p.merge.empty()) outputs = {fwd, bwd};
    if (p.forward.return_state) {
      outputs.insert(outputs.end(), fwd_states.begin(), fwd_states.end());
      outputs.insert(outputs.end(), bwd_states.begin(), bwd_states.end());
    }
    lines.push_back(Join(targets, ", ") + " = " + Join(outputs, ", "));
    return lines;
  }

 private:
  struct Parts {
    RnnConfig forward, backward;
    std::string merge;  // "" for merge_mode=None
  };

  static bool UseFused(const Parts& p, const CallContext& call) {
    return Fused(p.forward, Masked(call)) && Fused(p.backward, Masked(call)) &&
           p.forward.cell == p.backward.cell && p.forward.units == p.backward.units &&
           !p.forward.go_backwards;
  }

  static Expected<Cell> CellOf(const std::string& cls) {
    if (cls == "LSTM") return Cell::kLSTM;
    if (cls == "GRU") return Cell::kGRU;
    if (cls == "SimpleRNN") return Cell::kSimpleRNN;
    return MakeError("Bidirectional around {} is not supported (LSTM, GRU, SimpleRNN are)", cls);
  }

  static Expected<Parts> Read(const CallContext& call) {
    const Json& config = call.layer.config();
    const Json& layer = config.value("layer", Json());
    if (!layer.is_object() || !layer.contains("config")) {
      return MakeError("the config has no wrapped 'layer'");
    }
    Parts p;
    K2T_ASSIGN_OR_RETURN(Cell cell, CellOf(layer.value("class_name", "")));
    K2T_ASSIGN_OR_RETURN(p.forward, ReadRnn(ConfigReader(layer["config"]), cell, call.keras));
    p.backward = p.forward;
    p.backward.go_backwards = !p.forward.go_backwards;
    const Json& backward = config.value("backward_layer", Json());
    if (backward.is_object() && backward.contains("config")) {
      K2T_ASSIGN_OR_RETURN(Cell bcell, CellOf(backward.value("class_name", "")));
      K2T_ASSIGN_OR_RETURN(p.backward, ReadRnn(ConfigReader(backward["config"]), bcell, call.keras));
    }
    const Json& merge = config.value("merge_mode", Json("concat"));
    p.merge = merge.is_null() ? "" : merge.get<std::string>();
    if (!p.merge.empty() && p.merge != "concat" && p.merge != "sum" && p.merge != "mul" &&
        p.merge != "ave") {
      return MakeError("merge_mode '{}' is not supported", p.merge);
    }
    return p;
  }
};

}  // namespace

void RegisterRecurrentLayers(Registry& registry) {
  registry.Add("LSTM", std::make_shared<RnnConverter>(Cell::kLSTM));
  registry.Add("GRU", std::make_shared<RnnConverter>(Cell::kGRU));
  registry.Add("SimpleRNN", std::make_shared<RnnConverter>(Cell::kSimpleRNN));
  registry.Add("Bidirectional", std::make_shared<BidirectionalConverter>());
}

}  // namespace k2t::layers
