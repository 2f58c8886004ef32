//===- readers/legacy_weights.cc - Old weight layouts read as Keras 2 ones --===//
#include "readers/legacy_weights.h"

#include <memory>
#include <set>

#include "support/strings.h"

namespace k2t {
namespace {

using Step = DerivedWeight::Step;

Shape Apply(const Step& step, Shape shape) {
  switch (step.kind) {
    case Step::kPermute: {
      Shape out;
      for (int axis : step.axes) out.push_back(shape[static_cast<std::size_t>(axis)]);
      return out;
    }
    case Step::kReshape: return step.shape;
    case Step::kFlip: return shape;
    case Step::kSlice: shape[static_cast<std::size_t>(step.axis)] = step.length; return shape;
  }
  return shape;
}

Tensor Apply(const Step& step, const Tensor& t) {
  switch (step.kind) {
    case Step::kPermute: return t.Permute(step.axes);
    case Step::kReshape: return t.Reshape(step.shape);
    case Step::kFlip: return t.Flip(step.axes);
    case Step::kSlice: return t.Slice(step.axis, step.start, step.length);
  }
  return t;
}

Step Permute(std::vector<int> perm) { return {Step::kPermute, std::move(perm)}; }
Step Reshape(Shape shape) { return {Step::kReshape, {}, std::move(shape)}; }
Step Flip(std::vector<int> axes) { return {Step::kFlip, std::move(axes)}; }
Step Slice(int axis, std::int64_t start, std::int64_t length) {
  return {Step::kSlice, {}, {}, axis, start, length};
}

// A reference to `parts` concatenated on their last axis (or added), then
// transformed by `steps`; its name and shape are what Keras 2 would show.
WeightRef Derive(std::vector<WeightRef> parts, std::vector<Step> steps, const std::string& name,
                 bool sum = false) {
  WeightRef ref;
  ref.name = name;
  ref.dtype = sum ? DType::kF32 : parts[0].dtype;
  ref.dataset_path = parts[0].dataset_path;
  Shape shape = parts[0].shape;
  if (!sum) {
    for (std::size_t i = 1; i < parts.size(); ++i) shape.back() += parts[i].shape.back();
  }
  for (const Step& step : steps) shape = Apply(step, shape);
  ref.shape = shape;
  auto derived = std::make_shared<DerivedWeight>();
  derived->parts = std::move(parts);
  derived->sum = sum;
  derived->steps = std::move(steps);
  ref.derived = std::move(derived);
  return ref;
}

WeightRef Transposed(const WeightRef& ref, std::vector<int> perm) {
  return Derive({ref}, {Permute(std::move(perm))}, ref.name);
}

const Json& At(const Json& config, const char* key) {
  static const Json null;
  if (!config.is_object()) return null;
  const auto it = config.find(key);
  return it == config.end() ? null : *it;
}

bool ChannelsFirst(const Json& config) {
  const Json& format = At(config, "data_format");
  return format.is_string() && format.get<std::string>() == "channels_first";
}

std::int64_t IntAt(const Json& config, const char* key, std::size_t index = 0) {
  const Json& value = At(config, key);
  if (value.is_number_integer()) return value.get<std::int64_t>();
  if (value.is_array() && value.size() > index && value[index].is_number_integer()) {
    return value[index].get<std::int64_t>();
  }
  return -1;
}

// Keras 1 kept one array per gate and per kind (kernel, recurrent, bias);
// Keras 2 concatenates each kind in its own gate order. `order` lists, for
// each Keras 2 gate, the Keras 1 gate index.
std::vector<WeightRef> MergeGates(const std::vector<WeightRef>& weights,
                                  const std::vector<int>& order) {
  static const char* kinds[] = {"kernel", "recurrent_kernel", "bias"};
  std::vector<WeightRef> merged;
  for (int kind = 0; kind < 3; ++kind) {
    std::vector<WeightRef> parts;
    for (int gate : order) parts.push_back(weights[static_cast<std::size_t>(gate * 3 + kind)]);
    merged.push_back(Derive(std::move(parts), {}, kinds[kind]));
  }
  return merged;
}

Expected<std::vector<WeightRef>> Keras1Layouts(const std::string& cls, const Json& config,
                                               std::vector<WeightRef> w) {
  if (w.empty()) return w;
  const std::size_t rank = w[0].shape.size();
  if (cls == "Conv1D" && rank == 4) {
    const std::int64_t k = IntAt(config, "kernel_size");
    const std::int64_t filters = IntAt(config, "filters");
    const Shape& s = w[0].shape;
    if (s[0] != k || s[1] != 1 || s[3] != filters) {
      // Keras 1.1 and older: (filters, input_dim, filter_length, 1).
      if (s[0] != filters || s[2] != k || s[3] != 1) {
        return MakeError("Keras 1 Conv1D kernel has shape {}, which is neither "
                         "(length, 1, in, filters) nor (filters, in, length, 1)",
                         FormatList(s));
      }
      w[0] = Transposed(w[0], {2, 3, 1, 0});
    }
    const Shape& t = w[0].shape;  // (length, 1, in, filters)
    w[0] = Derive({w[0]}, {Reshape({t[0], t[2], t[3]})}, w[0].name);
  } else if (cls == "Conv2D" && rank == 4 && ChannelsFirst(config)) {
    // (filters, in, rows, cols) -> (rows, cols, in, filters)
    w[0] = Transposed(w[0], {2, 3, 1, 0});
  } else if (cls == "Conv2DTranspose" && rank == 4) {
    w[0] = Transposed(w[0], ChannelsFirst(config) ? std::vector<int>{2, 3, 0, 1}
                                                  : std::vector<int>{0, 1, 3, 2});
  } else if (cls == "Conv3D" && rank == 5 && ChannelsFirst(config)) {
    w[0] = Transposed(w[0], {2, 3, 4, 1, 0});
  } else if (cls == "LSTM" && w.size() == 12) {
    w = MergeGates(w, {0, 2, 1, 3});  // stored i, c, f, o; Keras 2 wants i, f, c, o
  } else if (cls == "GRU" && w.size() == 9) {
    w = MergeGates(w, {0, 1, 2});  // z, r, h in both
  } else if (cls == "ConvLSTM2D" && w.size() == 12) {
    w = MergeGates(w, {0, 2, 1, 3});
    if (ChannelsFirst(config)) {
      w[0] = Transposed(w[0], {2, 3, 1, 0});
      w[1] = Transposed(w[1], {2, 3, 1, 0});
    }
  }
  return w;
}

// Keras 1 on Theano ran border_mode 'same' as Theano's 'half' mode: k // 2
// on both sides, output cropped at the end for even kernels (keras 1.2.2
// theano_backend.conv2d). That is TensorFlow's padding only for stride 1 and
// odd kernels; anything else would silently shift the output.
Status TheanoSamePadding(const std::string& cls, const Json& config) {
  static const std::set<std::string> convs = {"Conv1D", "Conv2D", "Conv3D"};
  const Json& padding = At(config, "padding");
  if (!convs.count(cls) || !padding.is_string() || padding.get<std::string>() != "same") {
    return Status::Ok();
  }
  bool same_as_tf = true;
  for (const char* key : {"kernel_size", "strides"}) {
    const Json& values = At(config, key);
    if (!values.is_array()) continue;
    for (const Json& v : values) {
      if (!v.is_number_integer()) continue;
      const std::int64_t n = v.get<std::int64_t>();
      if (std::string(key) == "kernel_size" ? n % 2 == 0 : n != 1) same_as_tf = false;
    }
  }
  if (same_as_tf) return Status::Ok();
  return MakeError("this Keras 1 model was trained on Theano (its weight names have no ':0'), "
                   "whose border_mode 'same' pads differently from TensorFlow and PyTorch for "
                   "strided or even-sized kernels; this is not supported");
}

// Theano convolved, other backends correlate: reverse every kernel axis but
// the last two (Keras 2's conv_utils.convert_kernel).
// The layers whose kernels Theano flipped.
const std::set<std::string>& FlippedByTheano() {
  static const std::set<std::string> convs = {"Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose",
                                              "ConvLSTM2D"};
  return convs;
}

std::vector<WeightRef> FlipKernels(const std::string& cls, std::vector<WeightRef> w) {
  const std::set<std::string>& convs = FlippedByTheano();
  if (!convs.count(cls)) return w;
  const std::size_t kernels = cls == "ConvLSTM2D" ? 2 : 1;
  for (std::size_t i = 0; i < kernels && i < w.size(); ++i) {
    std::vector<int> axes;
    for (std::size_t a = 0; a + 2 < w[i].shape.size(); ++a) axes.push_back(static_cast<int>(a));
    w[i] = Derive({w[i]}, {Flip(axes)}, w[i].name);
  }
  return w;
}

// cuDNN's layout, gate block by gate block: an input-kernel block holds its
// (units, in) transpose in column-major order, recurrent blocks are
// transposed, LSTM has an input and a recurrent bias that Keras's LSTM adds,
// GRU keeps both as the two rows of a reset_after=True bias.
std::vector<WeightRef> FromCuDNN(const std::string& cls, std::vector<WeightRef> w) {
  if ((cls != "LSTM" && cls != "GRU") || w.size() != 3 || w[0].shape.size() != 2 ||
      w[1].shape.size() != 2 || w[2].shape.size() != 1) {
    return w;
  }
  const std::int64_t gates = cls == "LSTM" ? 4 : 3;
  const std::int64_t units = w[1].shape[0];
  const std::int64_t in = w[0].shape[0];
  if (w[2].shape[0] != 2 * gates * units || w[0].shape[1] != gates * units ||
      w[1].shape[1] != gates * units) {
    return w;
  }
  std::vector<WeightRef> kernel;
  std::vector<WeightRef> recurrent;
  for (std::int64_t g = 0; g < gates; ++g) {
    kernel.push_back(Derive({w[0]}, {Slice(1, g * units, units), Reshape({units, in}),
                                     Permute({1, 0})},
                            w[0].name));
    recurrent.push_back(Derive({w[1]}, {Slice(1, g * units, units), Permute({1, 0})},
                               w[1].name));
  }
  const std::int64_t half = gates * units;
  WeightRef bias = cls == "LSTM"
                       ? Derive({Derive({w[2]}, {Slice(0, 0, half)}, w[2].name),
                                 Derive({w[2]}, {Slice(0, half, half)}, w[2].name)},
                                {}, w[2].name, /*sum=*/true)
                       : Derive({w[2]}, {Reshape({2, half})}, w[2].name);
  return {Derive(std::move(kernel), {}, w[0].name), Derive(std::move(recurrent), {}, w[1].name),
          std::move(bias)};
}

}  // namespace

Expected<Tensor> ReadDerived(const WeightSource& source, const WeightRef& ref) {
  const DerivedWeight& d = *ref.derived;
  std::vector<Tensor> parts;
  for (const WeightRef& part : d.parts) {
    K2T_ASSIGN_OR_RETURN(Tensor t, source.Read(part));
    if (t.shape() != part.shape || t.dtype() != part.dtype) {
      return MakeError("weight '{}' changed shape or type while being read", part.name);
    }
    parts.push_back(d.sum ? t.ToFloat32() : std::move(t));
  }
  Tensor out;
  if (d.sum) {
    out = std::move(parts[0]);
    for (std::size_t i = 1; i < parts.size(); ++i) {
      float* into = out.as<float>();
      const float* add = parts[i].as<float>();
      for (std::int64_t k = 0; k < out.size(); ++k) into[k] += add[k];
    }
  } else {
    out = parts.size() == 1 ? std::move(parts[0])
                            : Tensor::Concat(parts, static_cast<int>(parts[0].shape().size()) - 1);
  }
  for (const Step& step : d.steps) out = Apply(step, out);
  return out;
}

Expected<std::vector<WeightRef>> PreprocessLegacyWeights(const std::string& cls,
                                                         const Json& config,
                                                         const LegacyWeightsContext& context,
                                                         std::vector<WeightRef> weights) {
  const Json& inner = At(At(config, "layer"), "config");
  const Json& inner_class = At(At(config, "layer"), "class_name");
  if ((cls == "TimeDistributed" || cls == "Bidirectional") && inner_class.is_string()) {
    const std::string inner_cls = inner_class.get<std::string>();
    if (cls == "TimeDistributed") {
      return PreprocessLegacyWeights(inner_cls, inner, context, std::move(weights));
    }
    // Forward weights, then backward, half and half.
    const std::size_t half = weights.size() / 2;
    std::vector<WeightRef> forward(weights.begin(), weights.begin() + half);
    std::vector<WeightRef> backward(weights.begin() + half, weights.end());
    K2T_ASSIGN_OR_RETURN(forward, PreprocessLegacyWeights(inner_cls, inner, context,
                                                          std::move(forward)));
    K2T_ASSIGN_OR_RETURN(backward, PreprocessLegacyWeights(inner_cls, inner, context,
                                                           std::move(backward)));
    forward.insert(forward.end(), backward.begin(), backward.end());
    return forward;
  }
  // Flipping or not would be a guess, and a wrong guess converts silently
  // into a model that computes something else.
  if (context.unknown_backend && FlippedByTheano().count(cls) && !weights.empty()) {
    return MakeError("a Keras 0.x weights file does not record which backend wrote it, and "
                     "Theano stored convolution kernels flipped relative to TensorFlow, so "
                     "this layer's kernel cannot be read without guessing; load the weights in "
                     "Keras 1 with the backend that wrote them and save them again "
                     "(model.save_weights), which records the backend");
  }
  if (context.keras1) {
    K2T_ASSIGN_OR_RETURN(weights, Keras1Layouts(cls, config, std::move(weights)));
  }
  if (context.keras1 && context.theano) K2T_RETURN_IF_ERROR(TheanoSamePadding(cls, config));
  if (context.theano) weights = FlipKernels(cls, std::move(weights));
  return FromCuDNN(cls, std::move(weights));
}

bool LooksTheanoNamed(const std::vector<WeightRef>& weights) {
  if (weights.empty()) return false;
  for (const WeightRef& ref : weights) {
    const auto colon = ref.name.rfind(':');
    if (colon != std::string::npos && colon + 1 < ref.name.size()) return false;
  }
  return true;
}

}  // namespace k2t
