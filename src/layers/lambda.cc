//===- layers/lambda.cc - Lambda layers, translated from their bytecode -----===//
//
// Keras keeps a Lambda's function as CPython bytecode, `marshal.dumps` of its
// code object:
//
//   Keras 1/2  config.function = [code, defaults, closure] (Keras 1.0: code
//              alone), function_type "lambda"; code is base64 text, or in
//              Keras 1 the bytes as raw_unicode_escape text
//   Keras 3    config.function = {"class_name": "__lambda__", "config":
//              {"code": ..., "defaults": ..., "closure": ...}}
//
// or as the name of a function (function_type "function"; Keras 3
// {"class_name": "function", "config": NAME}) that only the saving program
// had. The bytecode is read, decompiled and translated to PyTorch by
// layers/pyexpr/ without ever being run. A function that does not translate
// exactly becomes a skeleton whose docstring and NotImplementedError say why
// and show the function disassembled; nothing is guessed.
//
//===----------------------------------------------------------------------===//
#include "layers/lambda.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "layers/custom.h"
#include "layers/pyexpr/bytecode.h"
#include "layers/pyexpr/decompile.h"
#include "layers/pyexpr/marshal.h"
#include "layers/pyexpr/translate.h"
#include "layers/registry.h"
#include "support/python_text.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

constexpr std::size_t kMaxCodeText = std::size_t{1} << 22;

// Python's lenient base64 decoding (binascii.a2b_base64, which Keras's
// func_load uses): characters outside the alphabet are skipped, decoding
// stops where padding completes a group, and an incomplete last group fails.
std::optional<std::string> PythonBase64(std::string_view text) {
  std::string out;
  std::uint32_t accumulator = 0;
  int quad = 0;
  int pads = 0;
  for (char c : text) {
    if (c == '=') {
      if (quad >= 2 && quad + ++pads >= 4) {
        // 12 or 18 bits remain: one or two more bytes.
        if (quad == 2) {
          out.push_back(static_cast<char>((accumulator >> 4) & 0xFF));
        } else {
          out.push_back(static_cast<char>((accumulator >> 10) & 0xFF));
          out.push_back(static_cast<char>((accumulator >> 2) & 0xFF));
        }
        return out;
      }
      continue;
    }
    int value = -1;
    if (c >= 'A' && c <= 'Z') value = c - 'A';
    if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
    if (c >= '0' && c <= '9') value = c - '0' + 52;
    if (c == '+') value = 62;
    if (c == '/') value = 63;
    if (value < 0) continue;
    accumulator = (accumulator << 6) | static_cast<std::uint32_t>(value);
    if (++quad == 4) {
      out.push_back(static_cast<char>((accumulator >> 16) & 0xFF));
      out.push_back(static_cast<char>((accumulator >> 8) & 0xFF));
      out.push_back(static_cast<char>(accumulator & 0xFF));
      accumulator = 0;
      quad = 0;
    }
  }
  if (quad != 0) return std::nullopt;
  return out;
}

// text.encode("raw_unicode_escape"): code points below 256 as one byte, the
// others as \uXXXX (Keras 1 stored the bytes decoded that way). `utf8` is
// valid UTF-8, as every string of a parsed JSON config is.
std::string RawUnicodeEscape(std::string_view utf8) {
  std::string out;
  std::size_t i = 0;
  while (i < utf8.size()) {
    const auto lead = static_cast<unsigned char>(utf8[i]);
    const std::size_t n = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    std::uint32_t code = n == 1 ? lead : lead & (0x7F >> n);
    for (std::size_t k = 1; k < n && i + k < utf8.size(); ++k) {
      code = (code << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
    }
    i += n;
    if (code < 0x100) {
      out.push_back(static_cast<char>(code));
    } else if (code <= 0xFFFF) {
      out += fmt::format("\\u{:04x}", code);
    } else {
      out += fmt::format("\\U{:08x}", code);
    }
  }
  return out;
}

Shape ShapeOf(const Json& dims) {
  Shape shape;
  for (const Json& d : dims) shape.push_back(d.is_number_integer() ? d.get<std::int64_t>() : -1);
  return shape;
}

bool IsShapeList(const Json& value) {
  if (!value.is_array()) return false;
  return std::all_of(value.begin(), value.end(),
                     [](const Json& d) { return d.is_null() || d.is_number_integer(); });
}

// What a Lambda's config holds, read once per layer.
struct LambdaFunction {
  std::string problem;  // why it is not translated; empty when it may be
  std::string listing;  // the disassembled bytecode, when there is some
  std::string source;   // the decompiled function, when it decompiled
  std::string versions;
  std::optional<pyexpr::Function> function;
  Json defaults;
  Json closure;
  Json arguments = Json::object();
  std::vector<Shape> declared;  // output_shape from the config, batch excluded
};

void ReadDeclaredShapes(const Json& config, LambdaFunction& out) {
  if (!config.contains("output_shape")) return;
  const Json& declared = config["output_shape"];
  const std::string type = config.value("output_shape_type", Json("raw")).is_string()
                               ? config.value("output_shape_type", std::string("raw"))
                               : "raw";
  if (type != "raw") return;
  if (IsShapeList(declared)) {
    out.declared.push_back(ShapeOf(declared));
  } else if (declared.is_array() && !declared.empty() &&
             std::all_of(declared.begin(), declared.end(), IsShapeList)) {
    for (const Json& one : declared) out.declared.push_back(ShapeOf(one));
  }
}

// Where the bytecode is and what comes with it, for each Keras's format.
Status FindCode(const Json& config, Json& code, LambdaFunction& out) {
  if (!config.contains("function")) return MakeError("the config has no function");
  const Json& fn = config["function"];
  if (fn.is_object()) {
    const std::string class_name = fn.value("class_name", Json("")).is_string()
                                       ? fn.value("class_name", std::string())
                                       : "";
    if (class_name == "function") {
      return MakeError("its function is {}{}, a reference to code that only the program that "
                       "saved the model had",
                       fn.value("module", Json("")).is_string()
                           ? PrintableText(fn.value("module", std::string()), 80) + "."
                           : "",
                       PrintableText(fn.value("config", Json("")).is_string()
                                         ? fn.value("config", std::string())
                                         : Abbreviate(fn.value("config", Json()), 60),
                                     80));
    }
    if (class_name != "__lambda__" || !fn.contains("config") || !fn["config"].is_object()) {
      return MakeError("its function is a serialized object of class '{}'",
                       PrintableText(class_name, 60));
    }
    const Json& inner = fn["config"];
    if (inner.contains("code")) {
      code = inner["code"];
      out.defaults = inner.value("defaults", Json());
      out.closure = inner.value("closure", Json());
      return Status::Ok();
    }
    if (inner.contains("value") && inner["value"].is_array() && inner["value"].size() == 3) {
      code = inner["value"][0];
      out.defaults = inner["value"][1];
      out.closure = inner["value"][2];
      return Status::Ok();
    }
    return MakeError("its __lambda__ config has no code");
  }
  const Json type = config.value("function_type", Json("lambda"));
  if (type == "function") {
    const Json module = config.value("module", Json());
    return MakeError("its function is {}{}, a reference to code that only the program that "
                     "saved the model had",
                     module.is_string() ? PrintableText(module.get<std::string>(), 80) + "." : "",
                     fn.is_string() ? PrintableText(fn.get<std::string>(), 80)
                                    : Abbreviate(fn, 60));
  }
  if (type != "lambda") return MakeError("function_type {} is not known", Abbreviate(type, 40));
  if (fn.is_array() && fn.size() == 3) {
    code = fn[0];
    out.defaults = fn[1];
    out.closure = fn[2];
    return Status::Ok();
  }
  if (fn.is_string()) {
    code = fn;
    return Status::Ok();
  }
  return MakeError("its function is {}", Abbreviate(fn, 60));
}

LambdaFunction ReadLambdaFunction(const Json& config) {
  LambdaFunction out;
  ReadDeclaredShapes(config, out);
  if (config.contains("arguments")) out.arguments = config["arguments"];
  Json code;
  if (auto found = FindCode(config, code, out); !found.ok()) {
    out.problem = found.error().message();
    return out;
  }
  auto bytes = LambdaCodeBytes(code);
  if (!bytes.ok()) {
    out.problem = bytes.error().message();
    return out;
  }
  auto object = pyexpr::ReadCodeObject(*bytes);
  if (!object.ok()) {
    out.problem = "its code cannot be read: " + object.error().message();
    return out;
  }
  auto disassembly = pyexpr::Disassemble(**object);
  if (!disassembly.ok()) {
    out.problem = disassembly.error().message();
    return out;
  }
  out.versions = disassembly->versions.Describe();
  out.listing = pyexpr::FormatListing(**object, *disassembly);
  auto function = pyexpr::Decompile(**object, *disassembly);
  if (!function.ok()) {
    out.problem = function.error().message();
    return out;
  }
  out.source = pyexpr::FunctionSource(*function);
  if (config.contains("mask") && !config["mask"].is_null()) {
    out.problem = "its mask function is not translated";
    return out;
  }
  if (function->params.empty()) {
    out.problem = "its function takes no argument";
    return out;
  }
  out.function = std::move(*function);
  return out;
}

}  // namespace

pyexpr::KerasFlavor TranslationFlavor(const config::KerasInfo& keras) {
  pyexpr::KerasFlavor flavor;
  flavor.major = keras.major;
  // TensorFlow 2's image resizing (half-pixel centers) came with tf.keras
  // 2.3 and is the only one from Keras 2.4 on; an unknown version is a recent one.
  const auto parts = Split(keras.version, '.');
  int minor = 99;
  if (parts.size() >= 2) {
    minor = 0;
    for (char c : parts[1]) {
      if (c < '0' || c > '9') break;
      minor = minor * 10 + (c - '0');
    }
  }
  const bool tf_suffix = keras.version.find("-tf") != std::string::npos;
  flavor.tf2_resize = keras.major >= 3 ||
                      (keras.major == 2 && (minor >= 4 || (tf_suffix && minor >= 3)));
  return flavor;
}

LayoutPlan ElementwisePlan(const CallContext& call, const std::vector<ir::Layout>& current) {
  ir::Layout target = current[0];
  for (std::size_t i = 1; i < current.size(); ++i) {
    if (call.input(i).shape.size() != call.input(0).shape.size() || target.features) {
      target = ir::Layout();
    }
  }
  LayoutPlan plan;
  plan.inputs.assign(call.input_count(), target);
  plan.outputs.assign(call.node.outputs.size(), target);
  return plan;
}

Status AgreeShapes(Shape& shape, const Shape& keras, const char* what) {
  if (keras.empty()) return Status::Ok();
  if (keras.size() != shape.size()) {
    return MakeError("the translated function gives shape {} but {} is {}", FormatShape(shape),
                     what, FormatShape(keras));
  }
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] >= 0 && keras[i] >= 0 && shape[i] != keras[i]) {
      return MakeError("the translated function gives shape {} but {} is {}",
                       FormatShape(shape), what, FormatShape(keras));
    }
    if (shape[i] < 0) shape[i] = keras[i];
  }
  return Status::Ok();
}

namespace {

class LambdaConverter : public Converter {
 public:
  explicit LambdaConverter(LambdaFunction function) : fn_(std::move(function)) {}

  std::set<std::string> KnownKeys() const override {
    return {"function",    "function_type",       "module",    "output_shape",
            "output_shape_type", "output_shape_module", "arguments", "mask",
            "mask_type",   "mask_module"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    auto translation = TranslateNode(call, call.node, Placeholders(call.node));
    if (!translation.ok()) return Skeleton(call, translation.error())->InferShapes(call);
    std::vector<Shape> shapes;
    for (const auto& output : translation->outputs) shapes.push_back(output.shape);
    return shapes;
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    auto translation = TranslateAll(call);
    if (!translation.ok() || !translation->elementwise || current.empty()) {
      return KerasOrderPlan(call, call.node.outputs.size());
    }
    return ElementwisePlan(call, current);
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    auto translation = TranslateAll(call);
    if (!translation.ok()) return Skeleton(call, translation.error())->Lower(call);
    Lowering lowering;
    lowering.summary = PrintableText(fn_.source, 60);
    lowering.notes.push_back(fmt::format("translated from its {} bytecode: {}", fn_.versions,
                                         PrintableText(fn_.source, 300)));
    for (const std::string& note : translation->notes) lowering.notes.push_back(note);
    lowering.definitions = translation->definitions;
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    auto translation = TranslateAll(call);
    if (!translation.ok()) return Skeleton(call, translation.error())->EmitCall(call, emit);
    K2T_ASSIGN_OR_RETURN(auto mine, TranslateNode(call, call.node, emit.inputs));
    std::vector<std::string> codes;
    for (const auto& output : mine.outputs) codes.push_back(output.code);
    return Join(codes, ", ");
  }

 private:
  static std::vector<std::string> Placeholders(const ir::Node& node) {
    std::vector<std::string> codes;
    for (std::size_t i = 0; i < node.inputs.size(); ++i) codes.push_back(fmt::format("x{}", i));
    return codes;
  }

  // The translation of one call of the layer, its input tensors held by `codes`.
  Expected<pyexpr::Translation> TranslateNode(const CallContext& call, const ir::Node& node,
                                              const std::vector<std::string>& codes) const {
    if (!fn_.function) return MakeError("{}", fn_.problem);
    pyexpr::LambdaCall lambda;
    lambda.function = &*fn_.function;
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      const ir::Value& input = call.graph.value(node.inputs[i]);
      if (input.shape.empty()) {
        return MakeError("the shape of its input '{}' is not known",
                         PrintableText(input.name, 60));
      }
      lambda.inputs.push_back({codes.at(i), input.shape});
    }
    lambda.list_input = (node.call && node.call->list_input) || node.inputs.size() != 1;
    lambda.arguments = fn_.arguments;
    lambda.defaults = fn_.defaults;
    lambda.closure = fn_.closure;
    lambda.flavor = TranslationFlavor(call.keras);
    K2T_ASSIGN_OR_RETURN(pyexpr::Translation translation, pyexpr::TranslateLambda(lambda));
    if (translation.outputs.size() != node.outputs.size()) {
      return MakeError("the function returns {} tensor(s) where the layer has {} output(s)",
                       translation.outputs.size(), node.outputs.size());
    }
    for (std::size_t k = 0; k < node.outputs.size(); ++k) {
      K2T_RETURN_IF_ERROR(AgreeShapes(translation.outputs[k].shape,
                                      call.graph.value(node.outputs[k]).recorded_shape,
                                      "the shape recorded in the file"));
      if (fn_.declared.size() == node.outputs.size()) {
        Shape declared = {-1};
        declared.insert(declared.end(), fn_.declared[k].begin(), fn_.declared[k].end());
        K2T_RETURN_IF_ERROR(AgreeShapes(translation.outputs[k].shape, declared,
                                        "the layer's output_shape"));
      }
    }
    return translation;
  }

  // Every call must translate for the layer to be translated; this call's result.
  Expected<pyexpr::Translation> TranslateAll(const CallContext& call) const {
    for (int id : call.layer.nodes) {
      const ir::Node& node = call.graph.nodes[static_cast<std::size_t>(id)];
      if (node.id == call.node.id) continue;
      K2T_RETURN_IF_ERROR(TranslateNode(call, node, Placeholders(node)));
    }
    return TranslateNode(call, call.node, Placeholders(call.node));
  }

  std::shared_ptr<const Converter> Skeleton(const CallContext& call, const Error& why) const {
    SkeletonOptions options;
    options.reason = "a Lambda layer whose function keras2torch did not translate: " +
                     PrintableText(why.message(), 300);
    const std::string& name = call.layer.name;
    options.class_name = StartsWith(name, "lambda") ? name : "lambda_" + name;
    options.declared_shapes = fn_.declared;
    std::string details = "keras2torch did not translate this Lambda layer's function: " +
                          why.message() + ".";
    if (!fn_.source.empty()) details += "\nDecompiled, it reads: " + fn_.source;
    if (!fn_.listing.empty()) {
      details += "\nIts bytecode (" + fn_.versions + "), disassembled:\n" + fn_.listing;
    }
    options.details = details;
    return MakeSkeletonConverter(std::move(options));
  }

  LambdaFunction fn_;
};

}  // namespace

Expected<std::string> LambdaCodeBytes(const Json& code) {
  if (!code.is_string()) return MakeError("its code is {}, not text", Abbreviate(code, 40));
  const std::string& text = code.get_ref<const std::string&>();
  if (text.size() > kMaxCodeText) {
    return MakeError("its code is {} characters long, more than the {} accepted", text.size(),
                     kMaxCodeText);
  }
  const bool ascii = std::all_of(text.begin(), text.end(),
                                 [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii) {
    if (auto bytes = PythonBase64(text)) return *bytes;
  }
  return RawUnicodeEscape(text);
}

std::shared_ptr<const Converter> MakeLambdaConverter(const Json& config) {
  return std::make_shared<LambdaConverter>(ReadLambdaFunction(config));
}

}  // namespace k2t::layers
