//===- emit/python_emitter.h - model.py from the lowered graph --------------===//
#pragma once

#include <map>
#include <string>
#include <vector>

#include "passes/conversion.h"

namespace k2t {

struct EmittedModel {
  std::string source;      // model.py
  std::string class_name;  // the nn.Module subclass it defines
  std::map<int, std::string> attributes;  // layer id -> module attribute
  std::vector<std::string> input_names;   // forward's parameters, in Keras input order
  std::vector<std::pair<std::string, std::string>> copy_files;
  int interior_permutes = 0;
  int boundary_permutes = 0;
};

struct EmitOptions {
  std::string source_name;   // the Keras file's base name, for the header
  std::string tool_version;
};

Expected<EmittedModel> EmitPython(const passes::Conversion& conversion,
                                  const EmitOptions& options);

// The PyTorch `permute` that turns a tensor laid out as `from` into `to`.
std::vector<int> PermutationBetween(const ir::Layout& from, const ir::Layout& to, int rank);

}  // namespace k2t
