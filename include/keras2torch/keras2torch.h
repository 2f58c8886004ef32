//===- keras2torch/keras2torch.h - The library's public entry points -------===//
//
// Convert a Keras model file into a PyTorch module (model.py), its weights
// (model.safetensors) and a report, or describe it. Used by the command-line
// tool and by the Python package; neither throws nor prints.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <string>
#include <vector>

#include "support/error.h"
#include "support/limits.h"

namespace k2t {

inline constexpr const char* kVersion = "0.1.0";

struct ConvertOptions {
  std::string weights_path;  // weights for a JSON architecture (--weights)
  std::string custom_path;   // custom-layer mapping file (--custom)
  bool keras_io_layout = false;  // keep Keras's axis order at the inputs and outputs
  bool force = false;            // replace a non-empty output directory
  Limits limits;                 // caps on what the file may declare (--max-*)
};

struct ConvertResult {
  bool complete = true;  // false when some layer is a skeleton that needs code
  std::string report_json;
  std::vector<std::string> warnings;
};

// Writes model.py, model.safetensors, report.json and report.md into
// `out_dir`, atomically: on failure nothing is left behind.
Expected<ConvertResult> Convert(const std::string& model_path, const std::string& out_dir,
                                const ConvertOptions& options);

// A summary table like Keras's model.summary(), with what each layer becomes.
Expected<std::string> Inspect(const std::string& model_path, const ConvertOptions& options);

}  // namespace k2t
