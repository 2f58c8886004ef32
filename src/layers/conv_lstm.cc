//===- layers/conv_lstm.cc - ConvLSTM1D, ConvLSTM2D, ConvLSTM3D ---------------===//
//
// A convolutional LSTM, step by step in a generated module: at each step the
// gates i, f, c, o (Keras's order along the kernel's last axis) are a
// convolution of the input frame, with the layer's strides, dilation and
// padding, plus a convolution of the previous output, always stride 1 and
// 'same' padding. TensorFlow's 'same' puts an odd padding pixel after, so
// both paddings are explicit F.pad arguments computed here.
//
// Tensors run channels first per frame: (N, T, C, *spatial) in, (N, T, F,
// *spatial') or (N, F, *spatial') out, so a ConvLSTM stack needs no permute.
// go_backwards returns the sequence in processing order (not flipped back); at
// a masked step states are kept and the previous output repeated, as in Keras.
// tf.keras's ConvLSTM2D defaults recurrent_activation to hard_sigmoid, which
// its config records; Keras 2's hard_sigmoid is clip(0.2 x + 0.5, 0, 1), Keras
// 3's relu6(x + 3) / 6.
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include "layers/activation_functions.h"
#include "layers/conv_common.h"
#include "layers/nested.h"
#include "layers/registry.h"
#include "layers/weights_transform.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

constexpr const char* kConvLstmSource = R"(class _KerasConvLSTM(nn.Module):
    """A Keras ConvLSTM layer step by step. Frames are channels first: input
    (N, T, C, *spatial). Each step convolves the input frame (the layer's
    strides, dilation and padding) and the previous output (stride 1, 'same'),
    adds them and splits the channels into the gates i, f, c, o."""

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
    }

    def __init__(self, rank: int, in_channels: int, filters: int, kernel_size: tuple,
                 stride: tuple, dilation: tuple, input_padding: tuple, recurrent_padding: tuple,
                 activation: str, recurrent_activation: str, use_bias: bool, go_backwards: bool,
                 return_sequences: bool) -> None:
        super().__init__()
        conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[rank]
        self.input_conv = conv(in_channels, 4 * filters, kernel_size, stride=stride,
                               dilation=dilation, bias=use_bias)
        self.recurrent_conv = conv(filters, 4 * filters, kernel_size, bias=False)
        self.input_padding, self.recurrent_padding = input_padding, recurrent_padding
        self.activation = self.ACTIVATIONS[activation]
        self.recurrent_activation = self.ACTIVATIONS[recurrent_activation]
        self.go_backwards, self.return_sequences = go_backwards, return_sequences

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                initial_state: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
        """Returns [output, h, c]; output is the sequence or the last step."""
        steps = x.shape[1]
        inputs = self.input_conv(F.pad(x.flatten(0, 1), self.input_padding))
        inputs = inputs.unflatten(0, (x.shape[0], steps))  # every step's input term at once
        if initial_state:
            h, c = initial_state
        else:
            h = c = inputs.new_zeros(inputs[:, 0, : inputs.shape[2] // 4].shape)
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        previous = torch.zeros_like(h)
        outputs = []
        for t in order:
            z = inputs[:, t] + self.recurrent_conv(F.pad(h, self.recurrent_padding))
            i, f, g, o = z.chunk(4, dim=1)
            new_c = self.recurrent_activation(f) * c + self.recurrent_activation(i) * self.activation(g)
            new_h = self.recurrent_activation(o) * self.activation(new_c)
            if mask is not None:
                keep = mask[:, t].reshape(-1, *([1] * (h.dim() - 1)))
                new_h, new_c = torch.where(keep, new_h, h), torch.where(keep, new_c, c)
                output = torch.where(keep, new_h, previous)
            else:
                output = new_h
            h, c, previous = new_h, new_c, output
            outputs.append(output)
        result = torch.stack(outputs, dim=1) if self.return_sequences else previous
        return [result, h, c]
)";

struct ConvLstmConfig {
  WindowConfig window;
  std::int64_t filters = 0;
  std::string activation = "tanh", recurrent_activation = "sigmoid";
  bool use_bias = true, return_sequences = false, return_state = false, go_backwards = false;
};

// The name the helper's ACTIVATIONS table uses.
Expected<std::string> HelperActivation(const std::string& name, const config::KerasInfo& keras) {
  static const std::set<std::string> known = {"tanh", "sigmoid", "relu", "linear", "elu",
                                              "selu", "softsign", "softplus", "swish",
                                              "silu", "gelu", "hard_sigmoid"};
  if (!known.count(name)) {
    return MakeError("activation '{}' is not supported in a ConvLSTM layer", PrintableText(name));
  }
  if (name == "hard_sigmoid" && keras.major < 3) return std::string("hard_sigmoid_keras2");
  return name;
}

class ConvLstmConverter : public Converter {
 public:
  explicit ConvLstmConverter(int rank) : rank_(rank) {}

  std::set<std::string> KnownKeys() const override {
    return {"filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
            "activation", "recurrent_activation", "use_bias", "unit_forget_bias",
            "recurrent_initializer", "recurrent_regularizer", "recurrent_constraint",
            "dropout", "recurrent_dropout", "return_sequences", "return_state",
            "go_backwards", "stateful", "unroll", "time_major", "seed"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(ConvLstmConfig c, Read(call));
    const Shape frame = Frame(call);
    const Shape out = WindowOutputShape(c.window, frame, c.filters);
    Shape sequence = out;
    sequence.insert(sequence.begin() + 1, call.input().shape[1]);
    std::vector<Shape> shapes = {c.return_sequences ? sequence : out};
    if (c.return_state) shapes.insert(shapes.end(), {out, out});
    return shapes;
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(ConvLstmConfig c, Read(call));
    const std::int64_t in = ChannelsOf(c.window, Frame(call));
    Shape kernel = c.window.kernel;
    kernel.insert(kernel.end(), {in, 4 * c.filters});
    Shape recurrent = c.window.kernel;
    recurrent.insert(recurrent.end(), {c.filters, 4 * c.filters});
    // Keras 3 and tf.keras keep the variables on the layer's cell.
    std::vector<WeightSpec> specs = {{"kernel", kernel, "cell"},
                                     {"recurrent_kernel", recurrent, "cell"}};
    if (c.use_bias) specs.push_back({"bias", {4 * c.filters}, "cell"});
    return specs;
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>&) const override {
    K2T_ASSIGN_OR_RETURN(ConvLstmConfig c, Read(call));
    // Channels first per frame: (N, T, C, *spatial) and (N, C, *spatial).
    LayoutPlan plan = KerasOrderPlan(call, call.node.outputs.size());
    if (!c.window.channels_last) return plan;
    const int rank = rank_ + 3;
    plan.inputs[0].perm = {0, 1, rank - 1};
    for (int i = 2; i < rank - 1; ++i) plan.inputs[0].perm.push_back(i);
    for (std::size_t t = 0; t < plan.outputs.size(); ++t) {
      const bool sequence = t == 0 && c.return_sequences;
      plan.outputs[t] = sequence ? plan.inputs[0] : ir::Layout::ChannelsFirst(rank_ + 2);
    }
    // Initial states passed as extra inputs stay in Keras's order.
    return plan;
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(ConvLstmConfig c, Read(call));
    const Shape frame = Frame(call);
    const std::int64_t in = ChannelsOf(c.window, frame);
    const Shape spatial = SpatialOf(c.window, frame);
    const Shape out_spatial = SpatialOf(c.window, WindowOutputShape(c.window, frame, c.filters));
    for (std::size_t i = 0; i < spatial.size(); ++i) {
      if (spatial[i] < 0) return MakeError("the spatial sizes must be known, found {}",
                                           FormatShape(frame));
    }
    std::vector<PadPair> input_pads, recurrent_pads;
    for (int i = 0; i < rank_; ++i) {
      const auto k = static_cast<std::size_t>(i);
      input_pads.push_back(c.window.padding == "same"
                               ? SamePadding(spatial[k], c.window.kernel[k], c.window.strides[k],
                                             c.window.dilation[k])
                               : PadPair{});
      recurrent_pads.push_back(SamePadding(out_spatial[k], c.window.kernel[k], 1, 1));
    }
    K2T_ASSIGN_OR_RETURN(std::string activation, HelperActivation(c.activation, call.keras));
    K2T_ASSIGN_OR_RETURN(std::string recurrent,
                         HelperActivation(c.recurrent_activation, call.keras));
    Lowering lowering;
    lowering.module = fmt::format(
        "_KerasConvLSTM({}, {}, {}, kernel_size={}, stride={}, dilation={},\n"
        "            input_padding={}, recurrent_padding={}, activation=\"{}\",\n"
        "            recurrent_activation=\"{}\", use_bias={}, go_backwards={}, "
        "return_sequences={})",
        rank_, in, c.filters, PyTuple(c.window.kernel), PyTuple(c.window.strides),
        PyTuple(c.window.dilation), FPadArgument(input_pads), FPadArgument(recurrent_pads),
        activation, recurrent, c.use_bias ? "True" : "False", c.go_backwards ? "True" : "False",
        c.return_sequences ? "True" : "False");
    lowering.summary = "step-by-step convolutional LSTM";
    lowering.definitions.emplace_back("_KerasConvLSTM", kConvLstmSource);
    // (k..., in, 4F) -> (4F, in, k...); the gate blocks stay in Keras's order.
    const std::vector<int> perm = KernelToTorch(rank_);
    Shape kernel = c.window.kernel;
    kernel.insert(kernel.end(), {in, 4 * c.filters});
    Shape recurrent_kernel = c.window.kernel;
    recurrent_kernel.insert(recurrent_kernel.end(), {c.filters, 4 * c.filters});
    lowering.params.push_back(PermutedParam("input_conv.weight", 0, kernel, perm));
    lowering.params.push_back(PermutedParam("recurrent_conv.weight", 1, recurrent_kernel, perm));
    if (c.use_bias) lowering.params.push_back(CopyParam("input_conv.bias", 2, {4 * c.filters}));
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(std::string run, Run(call, emit));
    return run + "[0]";
  }

  bool UsesStatements(const CallContext& call) const override {
    return call.config().Bool("return_state", false).value_or(false);
  }

  Expected<std::vector<std::string>> EmitStatements(
      const CallContext& call, const EmitContext& emit,
      const std::vector<std::string>& targets) const override {
    K2T_ASSIGN_OR_RETURN(std::string run, Run(call, emit));
    return std::vector<std::string>{Join(targets, ", ") + " = " + run};
  }

 private:
  // The input without its time axis: what one step convolves.
  static Shape Frame(const CallContext& call) {
    Shape frame = call.input().shape;
    if (frame.size() > 1) frame.erase(frame.begin() + 1);
    return frame;
  }

  Expected<ConvLstmConfig> Read(const CallContext& call) const {
    const Shape& in = call.input().shape;
    if (static_cast<int>(in.size()) != rank_ + 3) {
      return MakeError("expects inputs of rank {}, found {}", rank_ + 3, FormatShape(in));
    }
    const ConfigReader config = call.config();
    ConvLstmConfig c;
    K2T_ASSIGN_OR_RETURN(c.window, ReadWindow(call, rank_, false));
    K2T_ASSIGN_OR_RETURN(c.filters, config.Int("filters"));
    K2T_ASSIGN_OR_RETURN(c.activation, ActivationName(config.Raw("activation")));
    if (!config.Has("activation")) c.activation = "tanh";
    if (config.Has("recurrent_activation")) {
      K2T_ASSIGN_OR_RETURN(c.recurrent_activation,
                           ActivationName(config.Raw("recurrent_activation")));
    } else {
      c.recurrent_activation = call.keras.major < 3 ? "hard_sigmoid" : "sigmoid";
    }
    K2T_ASSIGN_OR_RETURN(c.use_bias, config.Bool("use_bias", true));
    K2T_ASSIGN_OR_RETURN(c.return_sequences, config.Bool("return_sequences", false));
    K2T_ASSIGN_OR_RETURN(c.return_state, config.Bool("return_state", false));
    K2T_ASSIGN_OR_RETURN(c.go_backwards, config.Bool("go_backwards", false));
    K2T_ASSIGN_OR_RETURN(bool stateful, config.Bool("stateful", false));
    if (stateful) {
      return MakeError("stateful=True keeps state between batches, which a converted module "
                       "does not do; re-save the model with stateful=False");
    }
    if (c.filters <= 0) return MakeError("filters must be positive, found {}", c.filters);
    return c;
  }

  // The call of the module; initial states (Keras order) moved channels first.
  Expected<std::string> Run(const CallContext& call, const EmitContext& emit) const {
    K2T_ASSIGN_OR_RETURN(ConvLstmConfig c, Read(call));
    std::string args = emit.inputs[0];
    std::vector<std::string> states;
    for (std::size_t i = 1; i < emit.inputs.size(); ++i) states.push_back(emit.inputs[i]);
    for (std::size_t j = 0; j < emit.tensor_kwargs.size(); ++j) {
      const auto& [key, value] = emit.tensor_kwargs[j];
      if (key == "mask") args += ", mask=" + value;
      if (key != "initial_state") continue;
      K2T_ASSIGN_OR_RETURN(std::string state,
                           InKerasOrder(call.graph.value(call.node.tensor_kwargs[j].second),
                                        value));
      states.push_back(state);
    }
    if (!states.empty()) {
      if (c.window.channels_last) {
        for (std::string& s : states) s += ".movedim(-1, 1)";
      }
      args += ", initial_state=[" + Join(states, ", ") + "]";
    }
    return fmt::format("{}({})", emit.self(), args);
  }

  int rank_;
};

}  // namespace

void RegisterConvLstmLayers(Registry& registry) {
  for (int rank = 1; rank <= 3; ++rank) {
    registry.Add(fmt::format("ConvLSTM{}D", rank), std::make_shared<ConvLstmConverter>(rank));
  }
}

}  // namespace k2t::layers
