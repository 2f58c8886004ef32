//===- config/keras1.cc - Keras 1 layer configs in Keras 2 form -------------===//
//
// The renames follow Keras 2.2.4's legacy interfaces (keras/legacy/
// interfaces.py), which is how Keras 2 itself read Keras 1 arguments, and
// Keras 1.2.2's layer constructors for what each old key meant.
//
//===----------------------------------------------------------------------===//
#include "config/keras1.h"

#include <cmath>
#include <map>
#include <set>

#include "support/strings.h"

namespace k2t::config {
namespace {

// Moves `from` to `to` unless the config already has `to` (a file that mixes
// both keeps the Keras 2 value, as Keras 2's converters did).
void Rename(Json& config, const char* from, const char* to) {
  if (!config.contains(from)) return;
  if (!config.contains(to)) config[to] = config[from];
  config.erase(from);
}

// Keras 1 wrote sizes computed in Python 2 or numpy as floats ("input_dim":
// 96.0, "pool_size": [23.0, 23.0]); whole numbers become integers, anything
// else stays as written for the converter to refuse.
Json WholeNumbers(const Json& value) {
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
      return static_cast<std::int64_t>(d);
    }
    return value;
  }
  if (value.is_array()) {
    Json out = Json::array();
    for (const Json& item : value) out.push_back(WholeNumbers(item));
    return out;
  }
  return value;
}

void MakeWhole(Json& config, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (config.contains(key)) config[key] = WholeNumbers(config[key]);
  }
}

// `n` copies of a scalar, or the list unchanged.
Json Repeated(const Json& value, int n) {
  if (value.is_array() || value.is_null()) return value;
  Json out = Json::array();
  for (int i = 0; i < n; ++i) out.push_back(value);
  return out;
}

int SpatialRank(const std::string& cls) {
  if (EndsWith(cls, "1D")) return 1;
  if (EndsWith(cls, "3D")) return 3;
  return 2;
}

Status DataFormat(Json& config, const KerasInfo& keras) {
  if (!config.contains("dim_ordering")) return Status::Ok();
  const Json ordering = config["dim_ordering"];
  config.erase("dim_ordering");
  if (config.contains("data_format")) return Status::Ok();
  std::string value = ordering.is_string() ? ordering.get<std::string>() : "";
  // 'default' means the Keras configuration of the machine that saved the
  // model; its default was 'th' up to Keras 1.0.8 and 'tf' from 1.1.0.
  if (value == "default") {
    const bool old = keras.version.rfind("1.0.", 0) == 0;
    value = old ? "th" : "tf";
  }
  if (value == "tf") {
    config["data_format"] = "channels_last";
  } else if (value == "th") {
    config["data_format"] = "channels_first";
  } else {
    return MakeError("dim_ordering {} is neither 'tf' nor 'th'", Abbreviate(ordering));
  }
  return Status::Ok();
}

Status Padding(Json& config) {
  Rename(config, "border_mode", "padding");
  const Json& padding = config.value("padding", Json());
  if (padding.is_string() && padding.get<std::string>() == "full") {
    return MakeError("border_mode 'full' (Theano's full convolution) has no Keras 2 or "
                     "PyTorch equivalent; re-save the model with 'valid' or 'same'");
  }
  return Status::Ok();
}

// Keys every Keras 1 weighted layer used for training only.
void TrainingKeys(Json& config, const char* kernel) {
  Rename(config, "init", kernel);
  Rename(config, "W_regularizer", "kernel_regularizer");
  Rename(config, "b_regularizer", "bias_regularizer");
  Rename(config, "W_constraint", "kernel_constraint");
  Rename(config, "b_constraint", "bias_constraint");
  Rename(config, "bias", "use_bias");
}

// Keras 1 layers could give their input as input_dim (+ input_length) instead
// of batch_input_shape; the first layer of a model then defines the input.
void InputShapeFromDims(Json& config, bool sequence) {
  if (config.contains("batch_input_shape") || !config.contains("input_dim")) return;
  const Json dim = WholeNumbers(config["input_dim"]);
  if (dim.is_null()) return;
  if (sequence) {
    const Json length = WholeNumbers(config.value("input_length", Json()));
    config["batch_input_shape"] = Json::array({nullptr, length, dim});
  } else {
    config["batch_input_shape"] = Json::array({nullptr, dim});
  }
}

Status Convolution(const std::string& cls, Json& config, const KerasInfo& keras) {
  const int rank = SpatialRank(cls);
  TrainingKeys(config, "kernel_initializer");
  Rename(config, "nb_filter", "filters");
  Rename(config, "atrous_rate", "dilation_rate");
  K2T_RETURN_IF_ERROR(Padding(config));
  K2T_RETURN_IF_ERROR(DataFormat(config, keras));
  if (rank == 1) {
    Rename(config, "filter_length", "kernel_size");
    Rename(config, "subsample_length", "strides");
    InputShapeFromDims(config, true);
  } else {
    Rename(config, "subsample", "strides");
    const std::vector<const char*> keys =
        rank == 2 ? std::vector<const char*>{"nb_row", "nb_col"}
                  : std::vector<const char*>{"kernel_dim1", "kernel_dim2", "kernel_dim3"};
    if (!config.contains("kernel_size") && config.contains(keys[0])) {
      Json size = Json::array();
      for (const char* key : keys) size.push_back(config.value(key, Json()));
      config["kernel_size"] = size;
    }
    for (const char* key : keys) config.erase(key);
  }
  for (const char* key : {"kernel_size", "strides", "dilation_rate"}) {
    if (config.contains(key)) config[key] = Repeated(config[key], rank);
  }
  MakeWhole(config, {"filters", "kernel_size", "strides", "dilation_rate"});
  // Deconvolution2D had to be told its output shape; Keras 2 computes it.
  config.erase("output_shape");
  // SeparableConvolution2D's one init served both kernels.
  if (cls == "SeparableConvolution2D") {
    Rename(config, "kernel_initializer", "depthwise_initializer");
  }
  return Status::Ok();
}

Status Pooling(const std::string& cls, Json& config, const KerasInfo& keras) {
  const int rank = SpatialRank(cls);
  K2T_RETURN_IF_ERROR(Padding(config));
  // Theano's 'same' pooling padded (pool - 1) or (pool - 2) on both sides and
  // cropped (keras 1.2.2 theano_backend.pool2d), unlike TensorFlow.
  const Json& padding = config.value("padding", Json());
  if (keras.backend == "theano" && padding.is_string() && padding.get<std::string>() == "same") {
    return MakeError("this Keras 1 model was trained on Theano (its weight names have no ':0'), "
                     "whose border_mode 'same' pooling pads differently from TensorFlow and "
                     "PyTorch; this is not supported");
  }
  K2T_RETURN_IF_ERROR(DataFormat(config, keras));
  if (rank == 1) {
    Rename(config, "pool_length", "pool_size");
    Rename(config, "stride", "strides");
    for (const char* key : {"pool_size", "strides"}) {
      if (config.contains(key)) config[key] = Repeated(config[key], 1);
    }
  }
  MakeWhole(config, {"pool_size", "strides"});
  return Status::Ok();
}

Status Recurrent(Json& config) {
  TrainingKeys(config, "kernel_initializer");
  Rename(config, "output_dim", "units");
  Rename(config, "inner_init", "recurrent_initializer");
  Rename(config, "inner_activation", "recurrent_activation");
  Rename(config, "U_regularizer", "recurrent_regularizer");
  Rename(config, "U_constraint", "recurrent_constraint");
  Rename(config, "dropout_W", "dropout");
  Rename(config, "dropout_U", "recurrent_dropout");
  if (config.contains("forget_bias_init")) {
    const Json init = config["forget_bias_init"];
    config.erase("forget_bias_init");
    if (!config.contains("unit_forget_bias")) {
      config["unit_forget_bias"] = init.is_string() && init.get<std::string>() == "one";
    }
  }
  // consume_less chose how the gates were computed and stored ('gpu': one
  // concatenated kernel, else one array per gate); the weight reader sees
  // which from the number of arrays, as Keras 2's loader does.
  if (config.contains("consume_less")) {
    static const std::map<std::string, int> modes = {{"cpu", 0}, {"mem", 1}, {"gpu", 2}};
    const Json mode = config["consume_less"];
    config.erase("consume_less");
    const auto it = mode.is_string() ? modes.find(mode.get<std::string>()) : modes.end();
    if (it != modes.end() && !config.contains("implementation")) {
      config["implementation"] = it->second;
    }
  }
  InputShapeFromDims(config, true);
  MakeWhole(config, {"units"});
  return Status::Ok();
}

// ZeroPadding2D((top, bottom, left, right)) and its {"top_pad": ...} dict.
Status ZeroPadding2D(Json& config) {
  const Json padding = WholeNumbers(config.value("padding", Json()));
  if (padding.is_array() && padding.size() == 4) {
    config["padding"] = Json::array({Json::array({padding[0], padding[1]}),
                                     Json::array({padding[2], padding[3]})});
  } else if (padding.is_object()) {
    auto get = [&](const char* key) { return padding.value(key, Json(0)); };
    config["padding"] = Json::array({Json::array({get("top_pad"), get("bottom_pad")}),
                                     Json::array({get("left_pad"), get("right_pad")})});
  } else {
    config["padding"] = padding;
  }
  return Status::Ok();
}

// Merge(mode=...) as the Keras 2 merge layer of the same meaning.
Expected<Keras1Layer> Merge(const Json& config) {
  if (config.contains("layers")) {
    return MakeError("a Merge of Sequential branches (a Keras 1 Sequential model that starts "
                     "with Merge) is not supported; rebuild it as a functional Model");
  }
  const Json mode_type = config.value("mode_type", Json("raw"));
  const Json mode = config.value("mode", Json("sum"));
  if (mode_type != "raw" || !mode.is_string()) {
    return MakeError("Merge mode is a Python function (mode_type {}), whose code keras2torch "
                     "does not run; only the modes sum, mul, concat, ave, max and dot convert",
                     Abbreviate(mode_type));
  }
  static const std::map<std::string, std::string> classes = {
      {"sum", "Add"},  {"mul", "Multiply"}, {"ave", "Average"},
      {"max", "Maximum"}, {"concat", "Concatenate"}, {"dot", "Dot"}};
  const std::string name = mode.get<std::string>();
  const auto it = classes.find(name);
  if (it == classes.end()) {
    if (name == "cos") {
      return MakeError("Merge mode 'cos' (cosine proximity with Keras 1's extra output axis "
                       "and epsilon) is not supported yet");
    }
    return MakeError("unknown Merge mode '{}'", PrintableText(name));
  }
  Keras1Layer out;
  out.class_name = it->second;
  out.config = Json::object();
  for (const char* key : {"name", "trainable"}) {
    if (config.contains(key)) out.config[key] = config[key];
  }
  if (name == "concat") out.config["axis"] = WholeNumbers(config.value("concat_axis", Json(-1)));
  if (name == "dot") {
    out.config["axes"] = WholeNumbers(config.value("dot_axes", Json(-1)));
    out.config["normalize"] = false;
  }
  return out;
}

bool Has(const std::set<std::string>& names, const std::string& name) {
  return names.count(name) > 0;
}

}  // namespace

Expected<Keras1Layer> Keras1ToKeras2(const std::string& class_name, const Json& written,
                                     const KerasInfo& keras) {
  if (!written.is_object()) return Keras1Layer{class_name, written};
  if (class_name == "Merge") return Merge(written);
  Json config = written;
  Rename(config, "input_dtype", "dtype");
  const std::string& cls = class_name;

  static const std::set<std::string> convolutions = {
      "Convolution1D", "Convolution2D", "Convolution3D", "AtrousConvolution1D",
      "AtrousConvolution2D", "SeparableConvolution2D", "Deconvolution2D", "Conv1D", "Conv2D",
      "Conv3D", "Conv2DTranspose", "SeparableConv2D"};
  static const std::set<std::string> recurrent = {"LSTM", "GRU", "SimpleRNN"};

  if (Has(convolutions, cls)) {
    K2T_RETURN_IF_ERROR(Convolution(cls, config, keras));
  } else if (cls == "ConvLSTM2D") {
    K2T_RETURN_IF_ERROR(Recurrent(config));
    Rename(config, "units", "filters");
    K2T_RETURN_IF_ERROR(Convolution("Convolution2D", config, keras));
  } else if (StartsWith(cls, "MaxPooling") || StartsWith(cls, "AveragePooling")) {
    K2T_RETURN_IF_ERROR(Pooling(cls, config, keras));
  } else if (StartsWith(cls, "Global") || StartsWith(cls, "UpSampling") ||
             StartsWith(cls, "Cropping") || StartsWith(cls, "ZeroPadding") ||
             StartsWith(cls, "SpatialDropout")) {
    K2T_RETURN_IF_ERROR(DataFormat(config, keras));
    if (cls == "UpSampling1D") Rename(config, "length", "size");
    if (cls == "ZeroPadding2D") K2T_RETURN_IF_ERROR(ZeroPadding2D(config));
    if (StartsWith(cls, "SpatialDropout")) Rename(config, "p", "rate");
    MakeWhole(config, {"size", "padding", "cropping"});
  } else if (cls == "Dense") {
    TrainingKeys(config, "kernel_initializer");
    Rename(config, "output_dim", "units");
    InputShapeFromDims(config, false);
    MakeWhole(config, {"units"});
  } else if (cls == "Dropout" || cls == "GaussianDropout") {
    Rename(config, "p", "rate");
  } else if (cls == "GaussianNoise") {
    Rename(config, "sigma", "stddev");
  } else if (cls == "Embedding") {
    Rename(config, "init", "embeddings_initializer");
    Rename(config, "W_regularizer", "embeddings_regularizer");
    Rename(config, "W_constraint", "embeddings_constraint");
    // Keras 1 Embedding's own dropout (whole rows, training only).
    config.erase("dropout");
    MakeWhole(config, {"input_dim", "output_dim", "input_length"});
  } else if (Has(recurrent, cls)) {
    K2T_RETURN_IF_ERROR(Recurrent(config));
  } else if (cls == "BatchNormalization") {
    Rename(config, "beta_init", "beta_initializer");
    Rename(config, "gamma_init", "gamma_initializer");
  } else if (cls == "PReLU") {
    Rename(config, "init", "alpha_initializer");
  } else if (cls == "TimeDistributed" || cls == "Bidirectional") {
    const Json& inner = config.value("layer", Json());
    if (inner.is_object() && inner.contains("class_name") && inner["class_name"].is_string()) {
      K2T_ASSIGN_OR_RETURN(
          Keras1Layer rewritten,
          Keras1ToKeras2(inner["class_name"].get<std::string>(),
                         inner.value("config", Json::object()), keras));
      config["layer"]["class_name"] = rewritten.class_name;
      config["layer"]["config"] = std::move(rewritten.config);
    }
  }
  MakeWhole(config, {"batch_input_shape"});
  return Keras1Layer{class_name, std::move(config)};
}

bool UsesKeras1Dialect(const Json& node) {
  static const std::set<std::string> markers = {"nb_filter", "border_mode", "dim_ordering",
                                                "output_dim", "inner_activation", "input_dtype",
                                                "subsample_length", "pool_length"};
  if (node.is_object()) {
    if (node.contains("class_name") && node["class_name"] == "Merge") return true;
    for (const auto& [key, value] : node.items()) {
      // Embedding's output_dim is the same in Keras 2.
      if (markers.count(key) && !(key == "output_dim" && node.contains("embeddings_initializer"))) {
        return true;
      }
      if (UsesKeras1Dialect(value)) return true;
    }
  } else if (node.is_array()) {
    for (const Json& value : node) {
      if (UsesKeras1Dialect(value)) return true;
    }
  }
  return false;
}

}  // namespace k2t::config
