//===- layers/custom.h - Custom layer classes: user mappings and skeletons -===//
//
// A class that is not built into Keras cannot be translated from the file:
// its computation lives in the user's Python code. keras2torch never guesses.
// A mapping file (--custom FILE, JSON) says what each class becomes:
//
//   {"MyDense": {
//      "module": "nn.Linear",                       // a torch.nn class, or
//      "python": "my_layers.py", "class": "MyDense", // the user's nn.Module
//      "args": {"in_features": "$input.shape[-1]", "out_features": "$config.units"},
//      "weights": {"weight": {"from": "w", "transpose": [1, 0]}, "bias": {"from": "b"}},
//      "output_shape": [null, "$config.units"],      // optional, Keras order
//      "layout": "keras"                             // or "channels_first"
//   }}
//
// Without a mapping the layer becomes a skeleton: a class holding the layer's
// weights as parameters whose forward raises NotImplementedError, and the
// conversion is reported incomplete.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <map>
#include <memory>
#include <string>

#include "layers/converter.h"
#include "support/json.h"

namespace k2t::layers {

struct CustomMapping {
  std::string class_name;
  std::string torch_module;   // "nn.Linear", or empty when python_file is set
  std::string python_file;    // absolute path of the user's module file
  std::string python_class;
  Json args = Json::object();
  Json weights = Json::object();  // torch param name -> {"from": name|index, "transpose": [...]}
  Json output_shape;              // null, "same", or a list
  bool channels_first = false;
};

struct CustomMappings {
  std::string path;
  std::map<std::string, CustomMapping> by_class;
  const CustomMapping* Find(const std::string& class_name,
                            const std::string& registered_name) const;
};

Expected<CustomMappings> ReadCustomMappings(const std::string& path);

std::shared_ptr<const Converter> MakeMappedConverter(const CustomMapping& mapping);
// `reason` says why the layer is a skeleton ("custom class", "Lambda layer").
std::shared_ptr<const Converter> MakeSkeletonConverter(const std::string& reason);

// A skeleton that says more than the config can: a Lambda layer's skeleton
// shows why its function was not translated and the function's bytecode.
struct SkeletonOptions {
  std::string reason;
  std::string class_name;  // the generated class; "" names it after the Keras class
  // Replaces the generic advice in the docstring and the config in the
  // NotImplementedError message; several lines, text from the file included
  // (it is escaped where it is written).
  std::string details;
  // Output shapes without the batch size, for when the file records none.
  std::vector<Shape> declared_shapes;
};
std::shared_ptr<const Converter> MakeSkeletonConverter(SkeletonOptions options);

}  // namespace k2t::layers
