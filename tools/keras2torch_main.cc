//===- tools/keras2torch_main.cc - The keras2torch command ------------------===//
//
// Exit status: 0 converted completely, 1 converted with skeleton layers that
// need code (the report says which), 2 error (nothing written).
//
//===----------------------------------------------------------------------===//
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <string>

#include "keras2torch/keras2torch.h"
#include "support/json.h"
#include "supervisor.h"

namespace {

constexpr int kComplete = 0;
constexpr int kIncomplete = 1;
constexpr int kError = 2;

int ReportError(const k2t::Error& error) {
  for (const k2t::Error& e : error.All()) {
    fmt::print(stderr, "keras2torch: error: {}\n", e.Describe());
  }
  return kError;
}

std::string DefaultOutput(const std::string& model) {
  return std::filesystem::path(model).stem().string() + "_torch";
}

int RunConvert(const std::string& model, const std::string& out,
               const k2t::ConvertOptions& options) {
  auto result = k2t::Convert(model, out, options);
  if (!result.ok()) return ReportError(result.error());
  for (const std::string& warning : result->warnings) {
    fmt::print(stderr, "keras2torch: warning: {}: {}\n", model, warning);
  }
  const k2t::Json report = k2t::Json::parse(result->report_json);
  std::vector<std::string> skeletons;
  for (const auto& layer : report["layers"]) {
    if (layer["status"] == "skeleton") skeletons.push_back(layer["name"].get<std::string>());
  }
  fmt::print("wrote {}: model.py, model.safetensors, report.json, report.md\n", out);
  fmt::print("  {} layers, {} parameters, {} permutes in forward ({} at the boundary)\n",
             report["layers"].size(), report["parameters"].get<std::int64_t>(),
             report["permutes"]["interior"].get<int>() + report["permutes"]["boundary"].get<int>(),
             report["permutes"]["boundary"].get<int>());
  if (!result->complete) {
    fmt::print(stderr,
               "keras2torch: warning: {}: conversion is incomplete: {} layer(s) became skeletons "
               "whose forward raises NotImplementedError ({}); see {}/report.md\n",
               model, skeletons.size(), fmt::join(skeletons, ", "), out);
    return kIncomplete;
  }
  return kComplete;
}

// A command-line mistake, in the same one-line shape as every other error.
int UsageError(int argc, char** argv, std::string what) {
  if (argc >= 2 && argv[1][0] != '-' && std::string(argv[1]) != "convert" &&
      std::string(argv[1]) != "inspect") {
    what = fmt::format("unknown command '{}'; expected convert or inspect", argv[1]);
  }
  if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
  fmt::print(stderr, "keras2torch: error: {} (see keras2torch --help)\n", what);
  return kError;
}

// A cap is a whole number above zero; CLI11's own range check would print
// the range of a double.
const CLI::Validator kPositive(
    [](std::string& text) -> std::string {
      const bool digits = !text.empty() && text.size() <= 19 &&
                          text.find_first_not_of("0123456789") == std::string::npos;
      if (digits && text.find_first_not_of('0') != std::string::npos) return "";
      return fmt::format("expected a whole number above 0, not '{}'", text);
    },
    "N");

// The caps on what a file may declare, as --max-* options of `command`.
void AddLimitOptions(CLI::App* command, k2t::Limits& limits) {
  const char* group = "Limits on hostile files (raise them for very large models)";
  command->add_option(k2t::kJsonBytesFlag, limits.json_bytes, "bytes of config JSON")
      ->group(group)->capture_default_str()->check(kPositive);
  command->add_option(k2t::kJsonDepthFlag, limits.json_depth, "nesting depth of config JSON")
      ->group(group)->capture_default_str()->check(kPositive);
  command->add_option(k2t::kZipMemberBytesFlag, limits.zip_member_bytes,
                      "unpacked bytes of one .keras zip member")
      ->group(group)->capture_default_str()->check(kPositive);
  command->add_option(k2t::kZipRatioFlag, limits.zip_ratio,
                      "unpacked / packed size of one .keras zip member")
      ->group(group)->capture_default_str()->check(kPositive);
  command->add_option(k2t::kLayersFlag, limits.layers, "layers, nested models' included")
      ->group(group)->capture_default_str()->check(kPositive);
  command->add_option(k2t::kNodesFlag, limits.nodes, "layer calls once nested models are inlined")
      ->group(group)->capture_default_str()->check(kPositive);
  command->add_option(k2t::kTensorElementsFlag, limits.tensor_elements,
                      "elements of one weight tensor")
      ->group(group)->capture_default_str()->check(kPositive);
  command->add_option(k2t::kDatasetRatioFlag, limits.dataset_ratio,
                      "bytes of one HDF5 weight / bytes of its file")
      ->group(group)->capture_default_str()->check(kPositive);
  command->add_option(k2t::kSecondsFlag, limits.seconds, "wall-clock seconds for the whole run")
      ->group(group)->capture_default_str()->check(kPositive);
  command->add_option(k2t::kMemoryFlag, limits.memory_mib,
                      "MiB of memory the converting process may allocate")
      ->group(group)->capture_default_str()->check(kPositive);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"keras2torch: convert Keras model files into native PyTorch modules"};
  app.set_version_flag("--version", std::string("keras2torch ") + k2t::kVersion);
  app.require_subcommand(1);

  k2t::ConvertOptions options;
  // Enough for any Keras model we know of, well below what a workstation
  // has: a hostile size field fails here, not in the system's OOM killer.
  options.limits.memory_mib = 16384;
  std::string model;
  std::string out;
  std::string io_layout = "torch";

  auto* convert = app.add_subcommand("convert", "write model.py, model.safetensors and a report");
  convert->add_option("model", model, "Keras model file (.h5, .keras, or architecture .json)")
      ->required();
  convert->add_option("-o,--output", out, "output directory (default: <model>_torch)");
  convert->add_option("--weights", options.weights_path,
                      "weights file (.h5, .weights.h5, or the .weights.json index of shards)");
  convert->add_option("--custom", options.custom_path, "JSON mapping for custom layer classes");
  convert->add_option("--io-layout", io_layout,
                      "axis order at the model's inputs and outputs: torch (NCHW) or keras (NHWC)")
      ->check(CLI::IsMember({"torch", "keras"}));
  convert->add_flag("--force", options.force, "replace a non-empty output directory");
  AddLimitOptions(convert, options.limits);

  auto* inspect = app.add_subcommand("inspect", "print a summary of the model's layers");
  inspect->add_option("model", model, "Keras model file")->required();
  inspect->add_option("--weights", options.weights_path,
                      "weights file (.h5, .weights.h5, or the .weights.json index of shards)");
  inspect->add_option("--custom", options.custom_path, "JSON mapping for custom layer classes");
  AddLimitOptions(inspect, options.limits);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) {
    return app.exit(success);
  } catch (const CLI::ParseError& error) {
    return UsageError(argc, argv, error.what());
  }

  options.keras_io_layout = io_layout == "keras";
  if (convert->parsed() && out.empty()) out = DefaultOutput(model);
  k2t::tool::Supervision supervision;
  supervision.model = model;
  supervision.output_dir = convert->parsed() ? out : "";
  supervision.seconds = options.limits.seconds;
  supervision.memory_mib = options.limits.memory_mib;
  return k2t::tool::RunSupervised(supervision, [&] {
    if (convert->parsed()) return RunConvert(model, out, options);
    auto summary = k2t::Inspect(model, options);
    if (!summary.ok()) return ReportError(summary.error());
    fmt::print("{}", *summary);
    return kComplete;
  });
}
