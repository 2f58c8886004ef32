//===- driver/convert.cc - The pipeline, start to finish --------------------===//
//
//   read -> normalize -> graph -> converters -> shapes -> weights -> layout
//        -> lower -> emit (model.py, model.safetensors, report)
//
// Output goes to a temporary directory beside the target, renamed into place
// only when everything succeeded, so a failed run leaves nothing behind.
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <new>
#include <random>

#include "config/normalize.h"
#include "emit/python_emitter.h"
#include "emit/report.h"
#include "emit/safetensors_writer.h"
#include "keras2torch/keras2torch.h"
#include "layers/registry.h"
#include "passes/conversion.h"
#include "readers/hdf5.h"
#include "readers/model_file.h"
#include "support/strings.h"

namespace k2t {
namespace {

namespace fs = std::filesystem;

struct Pipeline {
  ModelFile file;
  layers::CustomMappings custom;
  passes::Conversion conversion;
};

// Reading through graph building: what both convert and inspect need.
Expected<std::unique_ptr<Pipeline>> Load(const std::string& path, const ConvertOptions& options) {
  auto pipeline = std::make_unique<Pipeline>();
  ReadOptions read;
  read.weights_path = options.weights_path;
  read.zip.max_member_bytes = options.limits.zip_member_bytes;
  read.zip.max_ratio = options.limits.zip_ratio;
  read.json.max_bytes = options.limits.json_bytes;
  read.json.max_depth = options.limits.json_depth;
  read.limits = options.limits;
  K2T_ASSIGN_OR_RETURN(pipeline->file, ReadModelFile(path, read));
  if (!options.custom_path.empty()) {
    K2T_ASSIGN_OR_RETURN(pipeline->custom, layers::ReadCustomMappings(options.custom_path));
  }
  passes::Conversion& c = pipeline->conversion;
  c.file = &pipeline->file;
  c.options.io_layout =
      options.keras_io_layout ? passes::IoLayout::kKeras : passes::IoLayout::kTorch;
  c.options.custom = options.custom_path.empty() ? nullptr : &pipeline->custom;
  K2T_ASSIGN_OR_RETURN(c.model, config::Normalize(pipeline->file));
  K2T_ASSIGN_OR_RETURN(c.graph, ir::BuildGraph(c.model.model, options.limits));
  if (c.graph.nodes.empty()) return MakeError("the model has no layers to convert");
  return pipeline;
}

Status RunPasses(passes::Conversion& c) {
  K2T_RETURN_IF_ERROR(passes::ResolveConverters(c));
  K2T_RETURN_IF_ERROR(passes::InferShapes(c));
  K2T_RETURN_IF_ERROR(passes::PropagateMasks(c));
  K2T_RETURN_IF_ERROR(passes::BindWeights(c));
  K2T_RETURN_IF_ERROR(passes::PlanLayout(c));
  K2T_RETURN_IF_ERROR(passes::Lower(c));
  return Status::Ok();
}

// "2 NaN and 1 infinite values", for the warning about a tensor; "" if all finite.
std::string NonFiniteCount(const Tensor& tensor) {
  if (!IsFloating(tensor.dtype())) return "";
  const Tensor f32 = tensor.dtype() == DType::kF32 ? Tensor() : tensor.ToFloat32();
  const Tensor& values = tensor.dtype() == DType::kF32 ? tensor : f32;
  std::int64_t nan = 0;
  std::int64_t inf = 0;
  const float* data = values.as<float>();
  for (std::int64_t i = 0; i < values.size(); ++i) {
    nan += std::isnan(data[i]) ? 1 : 0;
    inf += std::isinf(data[i]) ? 1 : 0;
  }
  if (nan == 0 && inf == 0) return "";
  return fmt::format("{} NaN and {} infinite value{}", nan, inf, nan + inf == 1 ? "" : "s");
}

// Weights are written as they are, NaN included: the warnings say where.
std::vector<SafetensorsEntry> WeightEntries(const passes::Conversion& c,
                                            const EmittedModel& emitted,
                                            std::vector<std::string>& warnings) {
  std::vector<SafetensorsEntry> entries;
  const WeightSource* source = c.file->weights.get();
  for (const ir::Layer& layer : c.graph.layers) {
    const auto attr = emitted.attributes.find(layer.id);
    if (attr == emitted.attributes.end()) continue;
    const auto id = static_cast<std::size_t>(layer.id);
    const std::vector<WeightRef>& refs = c.weights[id];
    for (const layers::Param& param : c.lowerings[id].params) {
      SafetensorsEntry entry;
      entry.key = attr->second + "." + param.key;
      entry.dtype = param.dtype;
      entry.shape = param.shape;
      entry.produce = [source, &refs, &param, &layer, &warnings,
                       key = entry.key]() -> Expected<Tensor> {
        std::vector<Tensor> inputs;
        for (int index : param.sources) {
          if (index < 0) continue;  // a parameter made from the config alone
          auto tensor = source->Read(refs.at(static_cast<std::size_t>(index)));
          if (!tensor.ok()) return passes::AtLayer(std::move(tensor).error(), layer);
          inputs.push_back(std::move(*tensor));
        }
        auto out = param.transform(std::move(inputs));
        if (!out.ok()) return passes::AtLayer(std::move(out).error(), layer);
        const std::string non_finite = NonFiniteCount(*out);
        if (!non_finite.empty()) {
          warnings.push_back(fmt::format("layer '{}' ({}): weight '{}' holds {}; converted as is",
                                         PrintableText(layer.QualifiedName()),
                                         PrintableText(layer.class_name), PrintableText(key),
                                         non_finite));
        }
        return out;
      };
      entries.push_back(std::move(entry));
    }
  }
  return entries;
}

// Every parameter's shape is checked before the first one is made: one made
// from the config alone (no weights read) is allocated at the size it declares.
Status CheckParameterSizes(const passes::Conversion& c, const Limits& limits) {
  for (const ir::Layer& layer : c.graph.layers) {
    const auto id = static_cast<std::size_t>(layer.id);
    if (id >= c.lowerings.size()) continue;
    for (const layers::Param& param : c.lowerings[id].params) {
      const std::string what = fmt::format("parameter '{}'", PrintableText(param.key));
      Status status = h5::CheckElementCount(what, param.shape, limits.tensor_elements);
      if (!status.ok()) return passes::AtLayer(std::move(status).error(), layer);
      // Integer data where floating-point weights belong is a damaged or
      // hand-edited file, not something to convert silently.
      for (int index : param.sources) {
        if (index < 0 || id >= c.weights.size() ||
            static_cast<std::size_t>(index) >= c.weights[id].size()) {
          continue;
        }
        const WeightRef& ref = c.weights[id][static_cast<std::size_t>(index)];
        if (IsFloating(param.dtype) && !IsFloating(ref.dtype)) {
          Error error = MakeError("weight '{}' holds {} values where floating-point weights "
                                  "belong",
                                  PrintableText(ref.name), TorchDTypeName(ref.dtype));
          return passes::AtLayer(std::move(error), layer);
        }
      }
    }
  }
  return Status::Ok();
}

Status WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) return MakeError("cannot write '{}'", path.string());
  return Status::Ok();
}

// Removes the staging directory unless it became the output. A process that
// dies cannot run this; the command-line tool's supervisor then removes it.
struct StagingGuard {
  fs::path path;
  bool keep = false;
  explicit StagingGuard(fs::path staging) : path(std::move(staging)) {}
  ~StagingGuard() {
    std::error_code ignored;
    if (!keep) fs::remove_all(path, ignored);
  }
};

// A fresh directory next to `target`, so the final rename stays on one filesystem.
Expected<fs::path> MakeStagingDirectory(const fs::path& target) {
  const fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::error_code code;
  fs::create_directories(parent, code);
  std::random_device random;
  for (int attempt = 0; attempt < 16; ++attempt) {
    const fs::path candidate =
        parent / fmt::format(".{}.k2t-{}-{:08x}", target.filename().string(), getpid(), random());
    if (fs::create_directory(candidate, code)) return candidate;
  }
  return MakeError("cannot create a temporary directory in '{}'", parent.string());
}

Status CheckTarget(const fs::path& target, bool force) {
  std::error_code code;
  if (!fs::exists(target, code)) return Status::Ok();
  if (!fs::is_directory(target, code)) {
    return MakeError("output '{}' exists and is not a directory", target.string());
  }
  if (!force && !fs::is_empty(target, code)) {
    return MakeError("output directory '{}' is not empty; use --force to replace it",
                     target.string());
  }
  return Status::Ok();
}

Status WriteOutputs(const passes::Conversion& c, const EmittedModel& emitted, const Json& report,
                    const fs::path& dir, std::vector<std::string>& warnings) {
  K2T_RETURN_IF_ERROR(WriteText(dir / "model.py", emitted.source));
  std::map<std::string, std::string> metadata = {
      {"format", "pt"},
      {"generator", fmt::format("keras2torch {}", kVersion)},
      {"source", fs::path(c.file->path).filename().string()},
  };
  K2T_RETURN_IF_ERROR(
      WriteSafetensors((dir / "model.safetensors").string(), WeightEntries(c, emitted, warnings),
                       metadata));
  K2T_RETURN_IF_ERROR(WriteText(dir / "report.json", report.dump(2) + "\n"));
  K2T_RETURN_IF_ERROR(WriteText(dir / "report.md", ReportMarkdown(report)));
  for (const auto& [source, name] : emitted.copy_files) {
    std::error_code code;
    fs::copy_file(source, dir / name, fs::copy_options::overwrite_existing, code);
    if (code) return MakeError("cannot copy '{}' beside model.py", source);
  }
  return Status::Ok();
}

// The library reports errors as values, but a third-party call (nlohmann's
// accessors, an allocation a corrupt header asks for) may still throw; it
// must become an error line and exit status 2, not an abort.
template <typename T, typename Body>
Expected<T> Guarded(Body& body, const Limits& limits) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    if (limits.memory_mib > 0) {
      return MakeError("out of memory: the conversion may allocate at most {} MiB {}; the file "
                       "may be damaged or declare impossible sizes",
                       limits.memory_mib, RaiseWith(kMemoryFlag));
    }
    return MakeError("out of memory; the file may be damaged or declare impossible sizes");
  } catch (const std::exception& e) {
    return MakeError("internal error: {}", PrintableText(e.what()));
  }
}

}  // namespace

Expected<ConvertResult> Convert(const std::string& model_path, const std::string& out_dir,
                                const ConvertOptions& options) {
  const fs::path target(out_dir);
  K2T_RETURN_IF_ERROR(CheckTarget(target, options.force));

  auto run = [&]() -> Expected<ConvertResult> {
    K2T_ASSIGN_OR_RETURN(auto pipeline, Load(model_path, options));
    passes::Conversion& c = pipeline->conversion;
    K2T_RETURN_IF_ERROR(RunPasses(c));
    K2T_RETURN_IF_ERROR(CheckParameterSizes(c, options.limits));
    EmitOptions emit;
    emit.source_name = fs::path(model_path).filename().string();
    emit.tool_version = kVersion;
    K2T_ASSIGN_OR_RETURN(EmittedModel emitted, EmitPython(c, emit));
    const Json report = BuildReport(c, emitted, kVersion);

    K2T_ASSIGN_OR_RETURN(fs::path staging, MakeStagingDirectory(target));
    // Removed on every way out, exceptions included, unless it became the target.
    StagingGuard guard(staging);
    std::vector<std::string> weight_warnings;
    auto written = WriteOutputs(c, emitted, report, staging, weight_warnings);
    std::error_code code;
    if (written.ok()) {
      fs::remove_all(target, code);
      fs::rename(staging, target, code);
      if (code) {
        written = MakeError("cannot move the output into '{}': {}", target.string(),
                            code.message());
      }
    }
    if (!written.ok()) return std::move(written).error();
    guard.keep = true;
    ConvertResult result;
    result.complete = ReportComplete(report);
    result.report_json = report.dump(2);
    result.warnings = c.warnings;
    result.warnings.insert(result.warnings.end(), weight_warnings.begin(), weight_warnings.end());
    return result;
  };
  auto result = Guarded<ConvertResult>(run, options.limits);
  if (!result.ok()) return std::move(result.error().InFile(model_path));
  return result;
}

Expected<std::string> Inspect(const std::string& model_path, const ConvertOptions& options) {
  auto inspect = [&]() -> Expected<std::string> {
    K2T_ASSIGN_OR_RETURN(auto pipeline, Load(model_path, options));
    passes::Conversion& c = pipeline->conversion;
    // A model that cannot be converted is still described; the failure is shown.
    const Status status = RunPasses(c);
    const auto& registry = layers::Registry::Get();

    std::vector<std::string> lines;
    lines.push_back(fmt::format("Model: \"{}\" ({}, {}, {})", PrintableText(c.graph.model_name),
                                c.graph.model_class, c.model.keras.Describe(),
                                FormatName(c.file->format)));
    const std::string rule(112, '-');
    lines.push_back(rule);
    lines.push_back(fmt::format("{:<36} {:<22} {:>10}  {:<28} {}", "Layer (type)", "Output Shape",
                                "Param #", "PyTorch", "Supported"));
    lines.push_back(rule);
    std::int64_t total = 0;
    for (const ir::Layer& layer : c.graph.layers) {
      if (StartsWith(layer.class_name, "__")) continue;  // added by keras2torch
      const auto id = static_cast<std::size_t>(layer.id);
      std::string shape = "?";
      if (!layer.nodes.empty()) {
        const auto& first_call = c.graph.nodes[static_cast<std::size_t>(layer.nodes[0])];
        const ir::Value& out = c.graph.value(first_call.outputs[0]);
        if (!out.shape.empty()) {
          std::vector<std::string> dims;
          for (auto d : out.shape) dims.push_back(d < 0 ? "None" : std::to_string(d));
          shape = "(" + Join(dims, ", ") + ")";
        }
      } else if (layer.class_name == "InputLayer") {
        for (std::size_t i = 0; i < c.graph.inputs.size(); ++i) {
          if (c.graph.input_names[i] == layer.name && layer.scope.empty()) {
            std::vector<std::string> dims;
            for (auto d : c.graph.value(c.graph.inputs[i]).shape) {
              dims.push_back(d < 0 ? "None" : std::to_string(d));
            }
            shape = "(" + Join(dims, ", ") + ")";
          }
        }
      }
      std::int64_t params = 0;
      if (id < c.weight_specs.size()) {
        for (const auto& spec : c.weight_specs[id]) params += ElementCount(spec.shape).value();
      }
      if (id < c.weights.size() && id < c.converters.size() && c.converters[id] &&
          c.converters[id]->TakesAllWeights()) {
        for (const auto& w : c.weights[id]) params += ElementCount(w.shape).value();
      }
      total += params;
      std::string torch = "-";
      std::string supported = "no";
      if (id < c.lowerings.size() && !layer.nodes.empty()) {
        const auto& lowering = c.lowerings[id];
        torch = lowering.summary.empty() ? "identity" : lowering.summary;
        supported = lowering.fidelity == layers::Fidelity::kSkeleton ? "skeleton" : "yes";
      } else if (layer.class_name == "InputLayer") {
        torch = "forward argument";
        supported = "yes";
      } else if (registry.Find(layer.class_name)) {
        supported = "yes";
      } else if (!layers::IsKerasBuiltinClass(layer.class_name) || layer.class_name == "Lambda") {
        supported = "skeleton";
      }
      const std::string name = PrintableText(layer.QualifiedName(), 60) + " (" +
                               PrintableText(layer.class_name, 40) + ")";
      lines.push_back(fmt::format("{:<36} {:<22} {:>10}  {:<28} {}", name, shape, params,
                                  PrintableText(torch, 28), supported));
    }
    lines.push_back(rule);
    lines.push_back(fmt::format("Total params: {}", total));
    if (!status.ok()) {
      for (const Error& e : status.error().All()) {
        lines.push_back("Cannot convert: " + e.Describe());
      }
    }
    return Join(lines, "\n") + "\n";
  };
  auto result = Guarded<std::string>(inspect, options.limits);
  if (!result.ok()) return std::move(result.error().InFile(model_path));
  return result;
}

}  // namespace k2t
