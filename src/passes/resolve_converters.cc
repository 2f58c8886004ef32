//===- passes/resolve_converters.cc - A converter for every layer -----------===//
//
// Built-in classes come from the registry; custom classes from the user's
// mapping, or else become skeletons. Built-in classes that keras2torch does
// not convert are collected and reported together, so one run lists them all.
//
//===----------------------------------------------------------------------===//
#include "layers/lambda.h"
#include "layers/registry.h"
#include "passes/conversion.h"
#include "support/strings.h"

namespace k2t::passes {
namespace {

// Keys every layer config may carry that change nothing at inference.
const std::set<std::string>& CommonKeys() {
  static const std::set<std::string> keys = {
      "name", "trainable", "dtype", "batch_input_shape", "batch_shape", "input_shape",
      "input_dim", "input_length", "input_dtype", "kernel_initializer", "bias_initializer",
      "kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
      "bias_constraint", "autocast", "build_config", "input_spec", "dynamic", "synchronized",
      "seed", "init", "W_regularizer", "b_regularizer", "W_constraint", "b_constraint",
  };
  return keys;
}

// Keras 3's legacy .h5 records `x + y` on symbolic tensors as class "Add"
// with no module, like the merge layer; but a merge layer is always called on
// one list of tensors, the operation on two arguments.
bool IsUnmarkedOp(const Conversion& conversion, const ir::Layer& layer) {
  static const std::set<std::string> classes = {"Add", "Subtract", "Multiply", "Maximum",
                                                "Minimum"};
  if (conversion.model.keras.major < 3 || !layer.spec || !layer.spec->module.empty() ||
      !classes.count(layer.class_name) || layer.nodes.empty()) {
    return false;
  }
  for (int id : layer.nodes) {
    const config::CallSpec* call = conversion.graph.nodes[static_cast<std::size_t>(id)].call;
    if (!call || call->list_input || !call->args.is_array() || call->args.size() != 2) {
      return false;
    }
  }
  return true;
}

}  // namespace

Status ResolveConverters(Conversion& conversion) {
  const auto& registry = layers::Registry::Get();
  const ir::Graph& graph = conversion.graph;
  conversion.converters.assign(graph.layers.size(), nullptr);

  std::optional<Error> unsupported;
  for (const ir::Layer& layer : graph.layers) {
    const std::string& cls = layer.class_name;
    const layers::Converter* converter =
        registry.Find(IsUnmarkedOp(conversion, layer) ? "ops." + cls : cls);
    const layers::CustomMapping* mapping =
        conversion.options.custom
            ? conversion.options.custom->Find(cls, layer.spec->registered_name)
            : nullptr;

    if (mapping) {
      auto owned = layers::MakeMappedConverter(*mapping);
      converter = owned.get();
      conversion.owned_converters.push_back(std::move(owned));
    } else if (!converter && cls == "Lambda") {
      // Translated from the function's bytecode, or a skeleton saying why not.
      auto owned = layers::MakeLambdaConverter(layer.config());
      converter = owned.get();
      conversion.owned_converters.push_back(std::move(owned));
    } else if (!converter && !layers::IsKerasBuiltinClass(cls)) {
      auto owned = layers::MakeSkeletonConverter("a custom layer class");
      converter = owned.get();
      conversion.owned_converters.push_back(std::move(owned));
    }

    if (!converter) {
      Error error = AtLayer(
          MakeError("Keras class {} is not supported by keras2torch yet", PrintableText(cls)),
          layer);
      if (unsupported) {
        unsupported->Add(std::move(error));
      } else {
        unsupported = std::move(error);
      }
      continue;
    }
    conversion.converters[static_cast<std::size_t>(layer.id)] = converter;

    // A config key nobody reads is a change in meaning we might be missing.
    if (mapping || converter->TakesAllWeights()) continue;
    const std::set<std::string> known = converter->KnownKeys();
    for (const auto& [key, value] : layer.config().items()) {
      if (CommonKeys().count(key) || known.count(key)) continue;
      conversion.warnings.push_back(fmt::format(
          "layer '{}' ({}): config key '{}' = {} is not understood and was ignored",
          PrintableText(layer.QualifiedName()), PrintableText(cls), PrintableText(key),
          Abbreviate(value, 60)));
    }
  }
  if (unsupported) return std::move(*unsupported);
  return Status::Ok();
}

}  // namespace k2t::passes
