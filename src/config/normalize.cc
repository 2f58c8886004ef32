//===- config/normalize.cc - Every Keras dialect into one canonical form ----===//
#include "config/normalize.h"

#include <map>
#include <set>

#include "config/keras1.h"
#include "readers/legacy_weights.h"
#include "support/strings.h"

namespace k2t::config {
namespace {

// One reference as written in the file, before nested-model offsets are removed.
struct RawRef {
  TensorRef ref;
  bool keras3_encoding = false;  // a keras_history triple rather than a Keras 2 list
};

// Reading hostile configs: a missing key, or a key of the wrong type, reads
// as null or as the fallback, never as an exception.
const Json& At(const Json& object, const char* key) {
  static const Json null;
  if (!object.is_object()) return null;
  const auto it = object.find(key);
  return it == object.end() ? null : *it;
}

std::string StringAt(const Json& object, const char* key, const std::string& fallback = "") {
  const Json& value = At(object, key);
  return value.is_string() ? value.get<std::string>() : fallback;
}

const std::map<std::string, std::string>& ClassAliases() {
  static const std::map<std::string, std::string> aliases = {
      {"Model", "Functional"},
      {"Convolution1D", "Conv1D"},
      {"Convolution2D", "Conv2D"},
      {"Convolution3D", "Conv3D"},
      {"AtrousConvolution1D", "Conv1D"},
      {"AtrousConvolution2D", "Conv2D"},
      {"Deconvolution2D", "Conv2DTranspose"},
      {"Deconv2D", "Conv2DTranspose"},
      {"Convolution2DTranspose", "Conv2DTranspose"},
      {"Deconvolution3D", "Conv3DTranspose"},
      {"Deconv3D", "Conv3DTranspose"},
      {"Convolution3DTranspose", "Conv3DTranspose"},
      {"SeparableConvolution1D", "SeparableConv1D"},
      {"SeparableConvolution2D", "SeparableConv2D"},
      {"DepthwiseConvolution2D", "DepthwiseConv2D"},
      {"MaxPool1D", "MaxPooling1D"},
      {"MaxPool2D", "MaxPooling2D"},
      {"MaxPool3D", "MaxPooling3D"},
      {"AvgPool1D", "AveragePooling1D"},
      {"AvgPool2D", "AveragePooling2D"},
      {"AvgPool3D", "AveragePooling3D"},
      {"GlobalMaxPool1D", "GlobalMaxPooling1D"},
      {"GlobalMaxPool2D", "GlobalMaxPooling2D"},
      {"GlobalMaxPool3D", "GlobalMaxPooling3D"},
      {"GlobalAvgPool1D", "GlobalAveragePooling1D"},
      {"GlobalAvgPool2D", "GlobalAveragePooling2D"},
      {"GlobalAvgPool3D", "GlobalAveragePooling3D"},
      {"BatchNormalizationV1", "BatchNormalization"},
      {"BatchNormalizationV2", "BatchNormalization"},
      {"SyncBatchNormalization", "BatchNormalization"},
      {"CuDNNLSTM", "LSTM"},
      {"CuDNNGRU", "GRU"},
      {"UnifiedLSTM", "LSTM"},
      {"UnifiedGRU", "GRU"},
      {"LSTMV1", "LSTM"},
      {"GRUV1", "GRU"},
  };
  return aliases;
}

int ParseMajor(const std::string& version) {
  if (version.empty() || version[0] < '0' || version[0] > '9') return -1;
  return std::atoi(version.c_str());
}

int ParseMinor(const std::string& version) {
  const auto dot = version.find('.');
  if (dot == std::string::npos) return 0;
  return std::atoi(version.c_str() + dot + 1);
}

// Keras 3 configs are recognisable without a version: shapes under
// "batch_shape", DTypePolicy objects and args/kwargs call nodes.
bool LooksLikeKeras3(const Json& node) {
  if (node.is_object()) {
    if (node.contains("batch_shape") || node.contains("args")) return true;
    if (node.contains("class_name") && node["class_name"] == "DTypePolicy") return true;
    for (const auto& [key, value] : node.items()) {
      if (LooksLikeKeras3(value)) return true;
    }
  } else if (node.is_array()) {
    for (const auto& value : node) {
      if (LooksLikeKeras3(value)) return true;
    }
  }
  return false;
}

class Normalizer {
 public:
  explicit Normalizer(const KerasInfo& keras) : keras_(keras) {}

  Expected<ModelSpec> Model(const Json& object);

 private:
  Expected<ModelSpec> Sequential(const Json& object);
  Expected<ModelSpec> Functional(const Json& object);
  Expected<LayerSpec> Layer(const Json& object);
  Status Calls(const Json& inbound_nodes, LayerSpec& layer, std::vector<std::vector<RawRef>>& raw,
               std::vector<std::vector<std::pair<std::string, RawRef>>>& raw_kwargs,
               std::vector<std::pair<RawRef, RecordedShape>>& shapes);
  Expected<TensorRef> Resolve(const RawRef& raw, const ModelSpec& model, bool io_list,
                              const std::string& context);

  KerasInfo keras_;
};

Json CanonicalDType(const Json& dtype) {
  // Keras 3 DTypePolicy / tf.keras Policy objects become their policy name.
  if (dtype.is_object() && dtype.contains("config") && dtype["config"].is_object() &&
      dtype["config"].contains("name")) {
    return dtype["config"]["name"];
  }
  return dtype;
}

// CuDNNLSTM and CuDNNGRU are LSTM and GRU(reset_after=True) with cuDNN's
// fixed activations; their weights are converted when bound.
Json PlainRnnFromCuDNN(const std::string& written_class, Json config) {
  if (!config.is_object()) return config;
  if (written_class == "CuDNNLSTM" || written_class == "CuDNNGRU") {
    config["activation"] = "tanh";
    config["recurrent_activation"] = "sigmoid";
    config["use_bias"] = true;
    if (written_class == "CuDNNGRU") config["reset_after"] = true;
  }
  // Inside Bidirectional or TimeDistributed.
  if (config.contains("layer") && config["layer"].is_object() &&
      config["layer"].contains("class_name") && config["layer"]["class_name"].is_string()) {
    Json& inner = config["layer"];
    const std::string cls = inner["class_name"].get<std::string>();
    if (cls == "CuDNNLSTM" || cls == "CuDNNGRU") {
      inner["config"] = PlainRnnFromCuDNN(cls, inner.value("config", Json::object()));
      inner["class_name"] = cls == "CuDNNLSTM" ? "LSTM" : "GRU";
    }
  }
  return config;
}

Json CanonicalConfig(const std::string& class_name, Json config) {
  if (!config.is_object()) return config;
  if (config.contains("dtype")) config["dtype"] = CanonicalDType(config["dtype"]);
  if (class_name == "LeakyReLU" && config.contains("alpha") && !config.contains("negative_slope")) {
    config["negative_slope"] = config["alpha"];
  }
  // tf.keras writes BatchNormalization's axis as a one-element list.
  if (config.contains("axis") && config["axis"].is_array() && config["axis"].size() == 1 &&
      class_name != "LayerNormalization") {
    config["axis"] = config["axis"][0];
  }
  if (config.contains("atrous_rate") && !config.contains("dilation_rate")) {
    config["dilation_rate"] = config["atrous_rate"];
  }
  return config;
}

// The shape a Sequential model's input has, from the first place that records it.
std::optional<Json> SequentialInputShape(const Json& config, const Json& layers) {
  if (!layers.empty() && layers[0].is_object()) {
    const Json& first = layers[0].value("config", Json::object());
    for (const char* key : {"batch_shape", "batch_input_shape"}) {
      if (first.is_object() && first.contains(key) && first[key].is_array()) return first[key];
    }
  }
  if (config.is_object() && config.contains("build_input_shape") &&
      config["build_input_shape"].is_array()) {
    return config["build_input_shape"];
  }
  return std::nullopt;
}

Expected<std::optional<std::int64_t>> ShapeDim(const Json& value) {
  if (value.is_null()) return std::optional<std::int64_t>();
  if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
    return std::optional<std::int64_t>(value.get<std::int64_t>());
  }
  return MakeError("invalid dimension {} in a shape", Abbreviate(value));
}

// A recorded shape, or an empty one when it is absent or malformed.
RecordedShape ReadRecordedShape(const Json& shape) {
  RecordedShape dims;
  if (!shape.is_array()) return dims;
  for (const Json& d : shape) {
    auto dim = ShapeDim(d);
    if (!dim.ok()) return {};
    dims.push_back(dim->value_or(-1));
  }
  return dims;
}

std::string UniqueName(const std::string& wanted, const std::set<std::string>& taken) {
  std::string name = wanted;
  for (int k = 1; taken.count(name); ++k) name = wanted + "_" + std::to_string(k);
  return name;
}

// Reads [name, node, tensor(, kwargs)] from a Keras 1/2 node entry.
Expected<RawRef> ListRef(const Json& entry) {
  if (!entry.is_array() || entry.size() < 3 || !entry[0].is_string() ||
      !entry[1].is_number_integer() || !entry[2].is_number_integer()) {
    return MakeError("malformed inbound node entry {}", Abbreviate(entry));
  }
  RawRef raw;
  raw.ref = {entry[0].get<std::string>(), entry[1].get<int>(), entry[2].get<int>()};
  return raw;
}

bool IsKerasTensor(const Json& value) {
  return StringAt(value, "class_name") == "__keras_tensor__" && At(value, "config").is_object();
}

Expected<RawRef> KerasTensorRef(const Json& value) {
  const Json& history = At(At(value, "config"), "keras_history");
  auto raw = ListRef(history);
  if (!raw.ok()) return MakeError("malformed keras_history {}", Abbreviate(history));
  raw->keras3_encoding = true;
  return raw;
}

// Collects every Keras tensor inside a Keras 3 argument, depth first.
Status CollectTensors(const Json& value, std::vector<RawRef>& out, std::vector<Json>& shapes) {
  if (IsKerasTensor(value)) {
    K2T_ASSIGN_OR_RETURN(RawRef raw, KerasTensorRef(value));
    out.push_back(raw);
    shapes.push_back(At(At(value, "config"), "shape"));
    return Status::Ok();
  }
  if (value.is_array()) {
    for (const Json& item : value) K2T_RETURN_IF_ERROR(CollectTensors(item, out, shapes));
  } else if (value.is_object() && !value.contains("class_name")) {
    for (const auto& [key, item] : value.items()) {
      K2T_RETURN_IF_ERROR(CollectTensors(item, out, shapes));
    }
  }
  return Status::Ok();
}

// The arguments with each Keras tensor replaced by {"__input__": k}, k
// counting in the order CollectTensors visits them.
Json MarkTensors(const Json& value, int& next) {
  if (IsKerasTensor(value)) return Json{{"__input__", next++}};
  if (value.is_array()) {
    Json out = Json::array();
    for (const Json& item : value) out.push_back(MarkTensors(item, next));
    return out;
  }
  if (value.is_object() && !value.contains("class_name")) {
    Json out = Json::object();
    for (const auto& [key, item] : value.items()) out[key] = MarkTensors(item, next);
    return out;
  }
  return value;
}

// Tensor references nested anywhere in Keras 2 kwargs: [str, int, int] lists.
bool IsListTensorRef(const Json& value) {
  return value.is_array() && (value.size() == 3 || value.size() == 4) && value[0].is_string() &&
         value[1].is_number_integer() && value[2].is_number_integer();
}

// Keras 1 files record no backend, but the weight names do: TensorFlow names
// variables "dense_1_W:0", Theano keeps "dense_1_W". "" when no layer has weights.
std::string Keras1Backend(const ModelFile& file) {
  if (!file.weights || file.weights->layout() != WeightLayout::kLegacy) return "";
  auto names = file.weights->LayerNames();
  if (!names.ok()) return "";
  for (const std::string& name : *names) {
    auto weights = file.weights->LayerWeights(name);
    if (!weights.ok() || weights->empty()) continue;
    return LooksTheanoNamed(*weights) ? "theano" : "tensorflow";
  }
  return "";
}

// tf_keras (2.4+) records a TensorFlow function called on symbolic tensors
// (x + 1, tf.math.multiply(a, b)) as a TFOpLambda layer whose config names the
// function. Its node is [first argument, node, tensor, {other arguments}], the
// first argument written ["_CONSTANT_VALUE", -1, value] when it is no tensor.
// The functions that keras.ops converters already translate are rewritten into
// those operations' nodes (args with {"__input__": k}, as Keras 3 writes them),
// so that both dialects share one translation.
struct TfFunction {
  const char* op;      // the equivalent keras.ops node class
  const char* second;  // keyword of the second operand; "" for one operand
};

const std::map<std::string, TfFunction>& TfFunctions() {
  static const std::map<std::string, TfFunction> functions = {
      {"__operators__.add", {"ops.Add", "y"}},
      {"math.add", {"ops.Add", "y"}},
      {"math.subtract", {"ops.Subtract", "y"}},
      {"math.multiply", {"ops.Multiply", "y"}},
      {"math.truediv", {"ops.TrueDivide", "y"}},
      {"math.divide", {"ops.Divide", "y"}},
      {"math.maximum", {"ops.Maximum", "y"}},
      {"math.minimum", {"ops.Minimum", "y"}},
      {"math.pow", {"ops.Power", "y"}},
      {"math.negative", {"ops.Negative", ""}},
      {"math.abs", {"ops.Abs", ""}},
      {"math.exp", {"ops.Exp", ""}},
      {"math.log", {"ops.Log", ""}},
      {"math.sqrt", {"ops.Sqrt", ""}},
      {"math.square", {"ops.Square", ""}},
      {"math.tanh", {"ops.Tanh", ""}},
      {"nn.tanh", {"ops.Tanh", ""}},
      {"math.sigmoid", {"ops.Sigmoid", ""}},
      {"nn.sigmoid", {"ops.Sigmoid", ""}},
      {"nn.relu", {"ops.Relu", ""}},
      {"nn.relu6", {"ops.Relu6", ""}},
      {"nn.silu", {"ops.Silu", ""}},
      {"nn.swish", {"ops.Silu", ""}},
      {"math.softplus", {"ops.Softplus", ""}},
      {"nn.softplus", {"ops.Softplus", ""}},
  };
  return functions;
}

// One TFOpLambda operand: a tensor reference (appended to refs), a number, or
// a constant array (tf_keras writes NumPy and tf constants as nested lists).
Expected<Json> TfOperand(const Json& value, std::vector<RawRef>& refs) {
  if (IsListTensorRef(value)) {
    K2T_ASSIGN_OR_RETURN(RawRef r, ListRef(value));
    refs.push_back(r);
    return Json{{"__input__", static_cast<int>(refs.size()) - 1}};
  }
  if (value.is_number() && !value.is_boolean()) return value;
  if (value.is_array()) {
    return Json{{"class_name", "__tensor__"},
                {"config", {{"value", value}, {"dtype", "float32"}}}};
  }
  return MakeError("argument {} is neither a tensor nor a number", Abbreviate(value));
}

// tf_keras nests a TFOpLambda's first argument as the call did: one entry, or
// a list of them (tf.concat([a, b])), each entry a tensor reference or
// ["_CONSTANT_VALUE", -1, value]. Tensors become {"__input__": k}; every
// entry repeats the keyword arguments, and tf_keras calls with the last's.
Status TfFirstArgument(const Json& value, std::vector<RawRef>& refs, Json& marked, Json& kwargs,
                       int depth) {
  if (depth > 16) return MakeError("the first argument is nested too deeply");
  if (!value.is_array()) return MakeError("malformed argument {}", Abbreviate(value));
  const bool entry = value.size() >= 3 && value.size() <= 4 && value[0].is_string();
  if (!entry) {
    marked = Json::array();
    for (const Json& item : value) {
      Json one;
      K2T_RETURN_IF_ERROR(TfFirstArgument(item, refs, one, kwargs, depth + 1));
      marked.push_back(std::move(one));
    }
    return Status::Ok();
  }
  if (value.size() == 4 && value[3].is_object()) kwargs = value[3];
  if (value[0] == "_CONSTANT_VALUE") {
    marked = value[2];
    return Status::Ok();
  }
  K2T_ASSIGN_OR_RETURN(RawRef r, ListRef(value));
  refs.push_back(r);
  marked = Json{{"__input__", static_cast<int>(refs.size()) - 1}};
  return Status::Ok();
}

// Keyword arguments with each tensor reference replaced by {"__input__": k}.
Json MarkTfKeywords(const Json& value, std::vector<RawRef>& refs, int depth) {
  if (IsListTensorRef(value)) {
    auto r = ListRef(value);
    if (!r.ok()) return value;
    refs.push_back(*r);
    return Json{{"__input__", static_cast<int>(refs.size()) - 1}};
  }
  if (!value.is_array() || depth > 16) return value;
  Json out = Json::array();
  for (const Json& item : value) out.push_back(MarkTfKeywords(item, refs, depth + 1));
  return out;
}

// Any other TensorFlow function, and tensor slicing (SlicingOpLambda, function
// "__operators__.getitem" with kwargs {"slice_spec": ...}), keep their class:
// the call's first argument becomes args[0] and its keywords kwargs, tensors
// marked, for layers/tfop.cc to translate or refuse by the function's name.
Status TfFunctionCall(const Json& node, LayerSpec& layer, std::vector<RawRef>& refs,
                      CallSpec& call) {
  const std::string shown = "tf." + PrintableText(StringAt(layer.config, "function"));
  Json first;
  Json kwargs = Json::object();
  K2T_RETURN_IF_ERROR(TfFirstArgument(node, refs, first, kwargs, 0));
  call.kwargs = Json::object();
  for (const auto& [key, value] : kwargs.items()) call.kwargs[key] = MarkTfKeywords(value, refs, 0);
  if (refs.empty()) return MakeError("{} is called on no tensor", shown);
  call.args = Json::array({first});
  call.list_input = false;
  Json new_config = Json::object({{"name", layer.name}, {"function", layer.config["function"]}});
  for (const char* key : {"dtype", "trainable"}) {
    if (layer.config.contains(key)) new_config[key] = layer.config[key];
  }
  layer.config = std::move(new_config);
  return Status::Ok();
}

// Rewrites one TFOpLambda node into the equivalent operation or layer call.
Status TfOpLambdaCall(const Json& node, LayerSpec& layer, std::vector<RawRef>& refs,
                      CallSpec& call) {
  const std::string function = StringAt(layer.config, "function");
  const std::string shown = "tf." + PrintableText(function);
  const bool reshape = function == "reshape";
  const bool transpose = function == "compat.v1.transpose" || function == "transpose";
  const bool single = node.is_array() && node.size() >= 3 && node[0].is_string();
  if (layer.class_name == "SlicingOpLambda" ||
      (!reshape && !transpose && !(TfFunctions().count(function) && single))) {
    return TfFunctionCall(node, layer, refs, call);
  }
  if (!single) {
    return MakeError("{} is called on a list of arguments, which is not translated", shown);
  }
  const Json kwargs = node.size() >= 4 && node[3].is_object() ? node[3] : Json::object();
  Json first;
  if (node[0] == "_CONSTANT_VALUE") {
    K2T_ASSIGN_OR_RETURN(first, TfOperand(node[2], refs));
  } else {
    K2T_ASSIGN_OR_RETURN(RawRef r, ListRef(node));
    refs.push_back(r);
    first = Json{{"__input__", 0}};
  }
  const bool first_is_tensor = first.is_object() && first.contains("__input__");

  std::set<std::string> allowed = {"name"};
  std::string op;
  Json new_config = Json::object({{"name", layer.name}});
  const auto known = TfFunctions().find(function);
  if (known != TfFunctions().end()) {
    op = known->second.op;
    const std::string second = known->second.second;
    call.args = Json::array({first});
    if (!second.empty()) {
      allowed.insert(second);
      if (!kwargs.contains(second)) {
        return MakeError("{} is called without its argument '{}'", shown, second);
      }
      K2T_ASSIGN_OR_RETURN(Json operand, TfOperand(kwargs[second], refs));
      call.args.push_back(operand);
    }
    if (refs.empty()) return MakeError("{} is called on no tensor", shown);
  } else if (reshape) {
    // tf.reshape includes the batch axis, which Reshape leaves out.
    allowed.insert("shape");
    const Json& shape = At(kwargs, "shape");
    bool ok = shape.is_array() && !shape.empty() && shape[0] == -1;
    for (const Json& d : shape) ok = ok && d.is_number_integer();
    if (!ok) {
      return MakeError("{} to shape {} is not translated (the batch axis must be -1)", shown,
                       Abbreviate(shape));
    }
    op = "Reshape";
    new_config["target_shape"] = Json(std::vector<Json>(shape.begin() + 1, shape.end()));
  } else {
    // tf.transpose includes the batch axis, which Permute leaves out.
    allowed.insert({"perm", "conjugate"});
    const Json& perm = At(kwargs, "perm");
    bool ok = perm.is_array() && perm.size() >= 2 && perm[0] == 0;
    for (const Json& d : perm) ok = ok && d.is_number_integer();
    if (!ok || At(kwargs, "conjugate") == true) {
      return MakeError("{} with perm {} is not translated (the batch axis must stay first)",
                       shown, Abbreviate(perm));
    }
    op = "Permute";
    new_config["dims"] = Json(std::vector<Json>(perm.begin() + 1, perm.end()));
  }
  if ((op == "Reshape" || op == "Permute") && !first_is_tensor) {
    return MakeError("{} is called on a constant, which is not translated", shown);
  }
  for (const auto& [key, value] : kwargs.items()) {
    if (!allowed.count(key)) {
      return MakeError("argument '{}' of {} is not translated", PrintableText(key), shown);
    }
  }
  for (const char* key : {"dtype", "trainable"}) {
    if (layer.config.contains(key)) new_config[key] = layer.config[key];
  }
  layer.class_name = op;
  layer.config = std::move(new_config);
  call.list_input = false;
  return Status::Ok();
}

}  // namespace

std::string KerasInfo::Describe() const {
  std::string text = version.empty() ? fmt::format("Keras {} (version not recorded)", major)
                                     : "Keras " + version;
  return text;
}

const LayerSpec* ModelSpec::Find(const std::string& layer_name) const {
  for (const LayerSpec& layer : layers) {
    if (layer.name == layer_name) return &layer;
  }
  return nullptr;
}

std::string CanonicalClassName(const std::string& class_name) {
  const auto& aliases = ClassAliases();
  const auto it = aliases.find(class_name);
  return it == aliases.end() ? class_name : it->second;
}

bool IsModelConfig(const std::string& class_name, const Json& config) {
  if (class_name == "Sequential" || class_name == "Functional" || class_name == "Model") {
    return true;
  }
  // A custom Model subclass saved with Functional's get_config.
  return config.is_object() && config.contains("layers") && config.contains("input_layers") &&
         config.contains("output_layers");
}

KerasInfo DetectKeras(const ModelFile& file) {
  KerasInfo info;
  info.version = file.keras_version;
  info.backend = file.backend;
  const int major = ParseMajor(file.keras_version);
  if (major == 1 || major == 3) {
    info.major = major;
    info.tf_keras = false;
    if (major == 1 && info.backend.empty()) info.backend = Keras1Backend(file);
    return info;
  }
  if (major == 2) {
    info.major = 2;
    // Standalone Keras 2.0-2.3 differs from tf.keras; "2.x.y-tf" is tf.keras.
    info.tf_keras = ParseMinor(file.keras_version) >= 4 ||
                    file.keras_version.find("-tf") != std::string::npos;
    return info;
  }
  if (UsesKeras1Dialect(file.model)) {
    // Keras 1 weights-only files and some JSON files record no version.
    info.major = 1;
    info.tf_keras = false;
    if (info.backend.empty()) info.backend = Keras1Backend(file);
    return info;
  }
  info.major = LooksLikeKeras3(file.model) ? 3 : 2;
  info.tf_keras = info.major == 2;
  return info;
}

Expected<ModelSpec> Normalizer::Model(const Json& object) {
  const std::string class_name = CanonicalClassName(StringAt(object, "class_name"));
  const Json& config = At(object, "config");
  if (class_name == "Sequential") return Sequential(object);
  if (IsModelConfig(class_name, config)) return Functional(object);
  return MakeError("the top-level object is a '{}', not a Keras model",
                   PrintableText(class_name));
}

Expected<LayerSpec> Normalizer::Layer(const Json& object) {
  if (!object.is_object() || !object.contains("class_name") || !object["class_name"].is_string()) {
    return MakeError("a layer entry has no class_name: {}", Abbreviate(object));
  }
  LayerSpec layer;
  layer.module = object.value("module", Json()).is_string() ? object["module"].get<std::string>()
                                                            : "";
  layer.registered_name = object.value("registered_name", Json()).is_string()
                              ? object["registered_name"].get<std::string>()
                              : "";
  const std::string written_class = object["class_name"].get<std::string>();
  layer.class_name = CanonicalClassName(written_class);
  // Keras 3 records calls of keras.ops (x + 3.0, ops.mean(x)) as graph nodes
  // whose class is the operation; they are not layers and own no weights.
  if (StartsWith(layer.module, "keras.src.ops.") || StartsWith(layer.module, "keras.ops")) {
    layer.class_name = "ops." + written_class;
  }
  // Keras 3 legacy .h5 files name registered custom classes "package>Name".
  const auto separator = layer.class_name.rfind('>');
  if (separator != std::string::npos) {
    if (layer.registered_name.empty()) layer.registered_name = layer.class_name;
    layer.class_name = layer.class_name.substr(separator + 1);
  }
  const Json config = object.value("config", Json::object());
  if (object.contains("name") && object["name"].is_string()) {
    layer.name = object["name"].get<std::string>();
  } else if (config.is_object() && config.contains("name") && config["name"].is_string()) {
    layer.name = config["name"].get<std::string>();
  }
  if (layer.name.empty()) {
    return MakeError("a '{}' layer has no name", PrintableText(layer.class_name));
  }
  layer.build_config = object.value("build_config", Json());

  if (IsModelConfig(layer.class_name, config)) {
    Json inner = object;
    inner["class_name"] = layer.class_name == "Sequential" ? "Sequential" : "Functional";
    auto model = Model(inner);
    if (!model.ok()) return std::move(model.error().AtLayer(layer.name, written_class));
    layer.model = std::make_shared<ModelSpec>(std::move(*model));
    if (layer.class_name != "Sequential") layer.class_name = "Functional";
    layer.config = Json::object({{"name", layer.name}});
    return layer;
  }
  if (keras_.major == 1) {
    // Keras 1 names (Convolution2D's nb_filter, Merge's mode) as Keras 2 ones.
    auto rewritten = Keras1ToKeras2(written_class, config, keras_);
    if (!rewritten.ok()) return std::move(rewritten.error().AtLayer(layer.name, written_class));
    layer.class_name = CanonicalClassName(rewritten->class_name);
    layer.config = CanonicalConfig(layer.class_name, std::move(rewritten->config));
    return layer;
  }
  layer.config = CanonicalConfig(layer.class_name, PlainRnnFromCuDNN(written_class, config));
  return layer;
}

Expected<ModelSpec> Normalizer::Sequential(const Json& object) {
  const Json& config = At(object, "config");
  // Keras <= 2.2.2 and Keras 1 store the layer list itself as the config.
  const Json& layers = config.is_array() ? config : At(config, "layers");
  if (!layers.is_array()) return MakeError("the Sequential config has no list of layers");

  ModelSpec model;
  model.class_name = "Sequential";
  model.name = StringAt(config, "name", "sequential");

  std::set<std::string> taken;
  for (const Json& entry : layers) {
    K2T_ASSIGN_OR_RETURN(LayerSpec layer, Layer(entry));
    if (!taken.insert(layer.name).second) {
      return MakeError("two layers are named '{}'", PrintableText(layer.name));
    }
    model.layers.push_back(std::move(layer));
  }

  // Make the input explicit: an InputLayer first, like a Functional model.
  const bool has_input = !model.layers.empty() && model.layers[0].class_name == "InputLayer";
  if (!has_input) {
    std::optional<Json> shape = SequentialInputShape(config, layers);
    // Keras 1 layers may give it as input_dim, which normalisation turned into a shape.
    if (!shape && !model.layers.empty() &&
        At(model.layers[0].config, "batch_input_shape").is_array()) {
      shape = At(model.layers[0].config, "batch_input_shape");
    }
    if (!shape && !model.layers.empty() && model.layers[0].model) {
      // A nested model first: the input is the nested model's input.
      const ModelSpec& inner = *model.layers[0].model;
      const LayerSpec* inner_input = inner.inputs.empty() ? nullptr
                                                          : inner.Find(inner.inputs[0].layer);
      for (const char* key : {"batch_shape", "batch_input_shape"}) {
        if (!shape && inner_input && At(inner_input->config, key).is_array()) {
          shape = At(inner_input->config, key);
        }
      }
    }
    if (!shape && object.contains("build_config") && object["build_config"].is_object()) {
      const Json& build = object["build_config"];
      if (build.contains("input_shape") && build["input_shape"].is_array()) {
        shape = build["input_shape"];
      }
    }
    if (!shape || shape->is_null()) {
      return MakeError("the Sequential model '{}' records no input shape: it was saved before "
                       "it was built; build it (give it an Input or call it once) and save it "
                       "again",
                       PrintableText(model.name));
    }
    LayerSpec input;
    input.class_name = "InputLayer";
    input.name = UniqueName(model.layers.empty() ? "input" : model.layers[0].name + "_input",
                            taken);
    const Json& first_config = model.layers.empty() ? Json::object() : model.layers[0].config;
    input.config = {{"name", input.name},
                    {"batch_shape", *shape},
                    {"dtype", first_config.is_object() && first_config.contains("dtype") &&
                                      first_config["dtype"].is_string()
                                  ? first_config["dtype"]
                                  : Json("float32")}};
    model.layers.insert(model.layers.begin(), std::move(input));
  }
  if (model.layers.size() < 2) {
    return MakeError("the Sequential model '{}' has no layers", PrintableText(model.name));
  }

  // Chain the calls: each layer takes the previous one's output.
  for (std::size_t i = 1; i < model.layers.size(); ++i) {
    CallSpec call;
    call.inputs.push_back({model.layers[i - 1].name, 0, 0});
    model.layers[i].calls = {call};
  }
  model.inputs = {{model.layers[0].name, 0, 0}};
  model.outputs = {{model.layers.back().name, 0, 0}};
  model.output_names = {model.layers.back().name};
  return model;
}

Status Normalizer::Calls(const Json& inbound_nodes, LayerSpec& layer,
                         std::vector<std::vector<RawRef>>& raw,
                         std::vector<std::vector<std::pair<std::string, RawRef>>>& raw_kwargs,
                         std::vector<std::pair<RawRef, RecordedShape>>& shapes) {
  if (!inbound_nodes.is_array()) return MakeError("inbound_nodes is not a list");
  for (const Json& node : inbound_nodes) {
    CallSpec call;
    std::vector<RawRef> refs;
    std::vector<std::pair<std::string, RawRef>> kwarg_refs;

    if (node.is_object() && node.contains("args")) {
      // Keras 3: the call's own arguments with tensors marked __keras_tensor__.
      const Json& args = node["args"];
      std::vector<Json> arg_shapes;
      K2T_RETURN_IF_ERROR(CollectTensors(args, refs, arg_shapes));
      for (std::size_t k = 0; k < refs.size(); ++k) {
        shapes.emplace_back(refs[k], ReadRecordedShape(arg_shapes[k]));
      }
      call.list_input = args.is_array() && !args.empty() && args[0].is_array();
      int next_input = 0;
      call.args = MarkTensors(args, next_input);
      const Json kwargs = node.value("kwargs", Json::object());
      for (const auto& [key, value] : kwargs.items()) {
        std::vector<RawRef> found;
        std::vector<Json> found_shapes;
        K2T_RETURN_IF_ERROR(CollectTensors(value, found, found_shapes));
        for (std::size_t k = 0; k < found.size(); ++k) {
          shapes.emplace_back(found[k], ReadRecordedShape(found_shapes[k]));
        }
        if (found.empty()) {
          call.kwargs[key] = value;
        } else {
          for (const RawRef& r : found) kwarg_refs.emplace_back(key, r);
        }
      }
    } else if ((layer.class_name == "TFOpLambda" || layer.class_name == "SlicingOpLambda") &&
               layer.calls.empty()) {
      K2T_RETURN_IF_ERROR(TfOpLambdaCall(node, layer, refs, call));
    } else if (node.is_array()) {
      // Keras 1/2: a list of [layer, node, tensor, kwargs] entries, or one bare entry.
      const bool single = !node.empty() && node[0].is_string();
      const Json entries = single ? Json::array({node}) : node;
      for (const Json& entry : entries) {
        K2T_ASSIGN_OR_RETURN(RawRef r, ListRef(entry));
        refs.push_back(r);
        if (entry.size() >= 4 && entry[3].is_object()) {
          for (const auto& [key, value] : entry[3].items()) {
            if (IsListTensorRef(value)) {
              K2T_ASSIGN_OR_RETURN(RawRef kr, ListRef(value));
              kwarg_refs.emplace_back(key, kr);
            } else {
              call.kwargs[key] = value;
            }
          }
        }
      }
      call.list_input = entries.size() > 1;
    } else {
      return MakeError("malformed inbound node {}", Abbreviate(node));
    }
    raw.push_back(std::move(refs));
    raw_kwargs.push_back(std::move(kwarg_refs));
    layer.calls.push_back(std::move(call));
  }
  return Status::Ok();
}

Expected<TensorRef> Normalizer::Resolve(const RawRef& raw, const ModelSpec& model, bool io_list,
                                        const std::string& context) {
  const LayerSpec* target = model.Find(raw.ref.layer);
  if (!target) {
    return MakeError("{} refers to layer '{}', which the model does not have", context,
                     PrintableText(raw.ref.layer));
  }
  TensorRef ref = raw.ref;
  const int calls = target->class_name == "InputLayer" ? 1 : static_cast<int>(target->calls.size());

  // A nested model's node 0 is its own construction; its calls in this model
  // are counted from 1 in Keras 2 references and in Keras 3 input/output lists.
  if (target->model) {
    bool offset = false;
    if (raw.keras3_encoding) {
      offset = io_list && target->class_name != "Sequential";
    } else {
      const bool starts_with_input = !target->model->layers.empty() &&
                                     target->model->layers[0].class_name == "InputLayer";
      offset = target->class_name != "Sequential" || !keras_.tf_keras || starts_with_input;
    }
    // The reference itself can settle what the version rules leave open.
    if (ref.node == calls) offset = true;
    if (ref.node == 0) offset = false;
    if (offset) ref.node -= 1;
  }
  if (target->class_name == "InputLayer") ref.node = 0;
  if (ref.node < 0 || ref.node >= calls) {
    return MakeError("{} refers to call {} of layer '{}', which is called {} time(s)", context,
                     raw.ref.node, PrintableText(raw.ref.layer), calls);
  }
  return ref;
}

Expected<ModelSpec> Normalizer::Functional(const Json& object) {
  const Json& config = At(object, "config");
  if (!config.is_object() || !config.contains("layers") || !config["layers"].is_array()) {
    return MakeError("the Functional config has no list of layers");
  }
  ModelSpec model;
  model.class_name = "Functional";
  model.name = StringAt(config, "name", "model");

  std::vector<std::vector<std::vector<RawRef>>> raw(config["layers"].size());
  std::vector<std::vector<std::vector<std::pair<std::string, RawRef>>>> raw_kwargs(raw.size());
  std::vector<std::pair<RawRef, RecordedShape>> recorded;
  std::set<std::string> taken;
  std::size_t index = 0;
  for (const Json& entry : config["layers"]) {
    K2T_ASSIGN_OR_RETURN(LayerSpec layer, Layer(entry));
    if (!taken.insert(layer.name).second) {
      return MakeError("two layers are named '{}'", PrintableText(layer.name));
    }
    auto status = Calls(entry.value("inbound_nodes", Json::array()), layer, raw[index],
                        raw_kwargs[index], recorded);
    if (!status.ok()) return std::move(status.error().AtLayer(layer.name, layer.class_name));
    model.layers.push_back(std::move(layer));
    ++index;
  }

  // With every layer known, resolve references and remove nested-model offsets.
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    LayerSpec& layer = model.layers[i];
    for (std::size_t c = 0; c < layer.calls.size(); ++c) {
      for (const RawRef& r : raw[i][c]) {
        auto ref = Resolve(r, model, false, "an input of this layer");
        if (!ref.ok()) return std::move(ref.error().AtLayer(layer.name, layer.class_name));
        layer.calls[c].inputs.push_back(*ref);
      }
      for (const auto& [key, r] : raw_kwargs[i][c]) {
        auto ref = Resolve(r, model, false, fmt::format("argument '{}'", key));
        if (!ref.ok()) return std::move(ref.error().AtLayer(layer.name, layer.class_name));
        layer.calls[c].tensor_kwargs.emplace_back(key, *ref);
      }
    }
  }

  for (const auto& [raw_ref, shape] : recorded) {
    if (shape.empty()) continue;
    auto ref = Resolve(raw_ref, model, false, "a recorded tensor");
    if (ref.ok()) model.recorded_shapes.emplace_back(*ref, shape);
  }

  // input_layers / output_layers: a triple, a list of triples or a dict of them.
  auto read_io = [&](const char* key, std::vector<TensorRef>& out,
                     std::vector<std::string>* names) -> Status {
    const Json& value = config.value(key, Json());
    std::vector<std::pair<std::string, Json>> entries;
    if (value.is_array() && !value.empty() && value[0].is_string()) {
      entries.emplace_back("", value);
    } else if (value.is_array()) {
      for (const Json& item : value) entries.emplace_back("", item);
    } else if (value.is_object()) {
      for (const auto& [name, item] : value.items()) entries.emplace_back(name, item);
    } else {
      return MakeError("the model config has no valid {}", key);
    }
    for (const auto& [name, item] : entries) {
      K2T_ASSIGN_OR_RETURN(RawRef r, ListRef(item));
      r.keras3_encoding = keras_.major == 3;
      K2T_ASSIGN_OR_RETURN(TensorRef ref,
                           Resolve(r, model, true, fmt::format("the model's {}", key)));
      out.push_back(ref);
      if (names) names->push_back(name.empty() ? ref.layer : name);
    }
    return Status::Ok();
  };
  K2T_RETURN_IF_ERROR(read_io("input_layers", model.inputs, nullptr));
  K2T_RETURN_IF_ERROR(read_io("output_layers", model.outputs, &model.output_names));
  if (model.inputs.empty()) {
    return MakeError("the model '{}' has no inputs", PrintableText(model.name));
  }
  if (model.outputs.empty()) {
    return MakeError("the model '{}' has no outputs", PrintableText(model.name));
  }
  return model;
}

Expected<NormalizedModel> Normalize(const ModelFile& file) {
  NormalizedModel normalized;
  normalized.keras = DetectKeras(file);
  Normalizer normalizer(normalized.keras);
  K2T_ASSIGN_OR_RETURN(normalized.model, normalizer.Model(file.model));
  return normalized;
}

}  // namespace k2t::config
