//===- emit/report.cc - report.json and report.md ---------------------------===//
#include "emit/report.h"

#include <fmt/format.h>

#include <filesystem>

#include "support/strings.h"

namespace k2t {
namespace {

Json ShapeJson(const Shape& shape) {
  if (shape.empty()) return Json();  // unknown
  Json out = Json::array();
  for (auto d : shape) out.push_back(d < 0 ? Json() : Json(d));
  return out;
}

std::string ShapeText(const Json& shape) {
  if (shape.is_null()) return "?";
  std::vector<std::string> parts;
  for (const Json& d : shape) parts.push_back(d.is_null() ? "None" : d.dump());
  return "(" + Join(parts, ", ") + (parts.size() == 1 ? ",)" : ")");
}

std::string StatusOf(const layers::Lowering& lowering) {
  switch (lowering.fidelity) {
    case layers::Fidelity::kExact: return "converted";
    case layers::Fidelity::kApproximate: return "approximated";
    case layers::Fidelity::kSkeleton: return "skeleton";
  }
  return "converted";
}

// The permutation that takes a tensor in Keras's axis order to PyTorch's:
// torch_tensor = keras_tensor.permute(*permute_from_keras).
Json PermuteFromKeras(const ir::Value& value) {
  Json perm = Json::array();
  for (std::size_t i = 0; i < value.shape.size(); ++i) {
    perm.push_back(value.layout.perm.empty() ? static_cast<int>(i) : value.layout.perm[i]);
  }
  return perm;
}

Json Identity(std::size_t rank) {
  Json perm = Json::array();
  for (std::size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int>(i));
  return perm;
}

Json TensorEntry(const ir::Value& value, const std::string& name, const std::string& argument) {
  return {{"name", name},
          {"argument", argument},
          {"dtype", TorchDTypeName(value.dtype)},
          {"keras_shape", ShapeJson(value.shape)},
          {"torch_shape", ShapeJson(layers::TorchShape(value))},
          {"layout", value.layout.Describe()},
          {"permute_from_keras", PermuteFromKeras(value)}};
}

// Markdown table cells must not break the table or the page.
std::string Cell(const std::string& text) {
  std::string out;
  for (char c : PrintableText(text, 200)) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '`') {
      out += "'";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

Json BuildReport(const passes::Conversion& c, const EmittedModel& emitted,
                 const std::string& tool_version) {
  const ir::Graph& graph = c.graph;
  Json report;
  report["keras2torch_version"] = tool_version;
  report["source"] = {{"file", std::filesystem::path(c.file->path).filename().string()},
                      {"format", FormatName(c.file->format)},
                      {"keras_version", c.model.keras.version},
                      {"keras", c.model.keras.Describe()},
                      {"backend", c.model.keras.backend}};
  report["model"] = {{"name", graph.model_name},
                     {"class", graph.model_class},
                     {"torch_class", emitted.class_name}};
  report["io_layout"] = c.options.io_layout == passes::IoLayout::kTorch ? "torch" : "keras";

  report["inputs"] = Json::array();
  for (std::size_t i = 0; i < graph.inputs.size(); ++i) {
    report["inputs"].push_back(TensorEntry(graph.value(graph.inputs[i]), graph.input_names[i],
                                           emitted.input_names[i]));
  }
  report["outputs"] = Json::array();
  for (std::size_t o = 0; o < graph.outputs.size(); ++o) {
    const std::string name = o < graph.output_names.size() ? graph.output_names[o] : "";
    Json entry = TensorEntry(graph.value(graph.outputs[o]), name, "");
    entry.erase("argument");
    // With Keras io-layout the output is permuted back at the return.
    if (c.options.io_layout == passes::IoLayout::kKeras) {
      entry["torch_shape"] = entry["keras_shape"];
      entry["layout"] = "keras";
      entry["permute_from_keras"] = Identity(entry["permute_from_keras"].size());
    }
    report["outputs"].push_back(entry);
  }
  if (c.options.io_layout == passes::IoLayout::kKeras) {
    for (auto& entry : report["inputs"]) {
      entry["torch_shape"] = entry["keras_shape"];
      entry["layout"] = "keras";
      entry["permute_from_keras"] = Identity(entry["permute_from_keras"].size());
    }
  }
  report["permutes"] = {{"interior", emitted.interior_permutes},
                        {"boundary", emitted.boundary_permutes}};

  std::int64_t total_parameters = 0;
  bool complete = true;
  report["layers"] = Json::array();
  for (const ir::Layer& layer : graph.layers) {
    // Layers keras2torch added itself (mask computations) are not Keras layers.
    if (StartsWith(layer.class_name, "__")) continue;
    Json entry;
    entry["name"] = layer.QualifiedName();
    entry["class"] = layer.class_name;
    const auto id = static_cast<std::size_t>(layer.id);
    if (layer.nodes.empty()) {
      entry["status"] = layer.class_name == "InputLayer" ? "input" : "unused";
      entry["torch"] = layer.class_name == "InputLayer" ? "forward argument" : "";
      entry["parameters"] = 0;
      entry["notes"] = Json::array();
      report["layers"].push_back(entry);
      continue;
    }
    const layers::Lowering& lowering = c.lowerings[id];
    entry["status"] = StatusOf(lowering);
    if (lowering.fidelity == layers::Fidelity::kSkeleton) complete = false;
    entry["torch"] = lowering.summary.empty() ? "identity" : lowering.summary;
    const auto attr = emitted.attributes.find(layer.id);
    if (attr != emitted.attributes.end()) entry["attribute"] = attr->second;
    std::int64_t count = 0;
    for (const layers::Param& param : lowering.params) {
      auto n = ElementCount(param.shape);
      if (n.ok()) count += *n;
    }
    total_parameters += count;
    entry["parameters"] = count;
    entry["calls"] = layer.nodes.size();
    Json shapes = Json::array();
    const ir::Node& first = graph.nodes[static_cast<std::size_t>(layer.nodes[0])];
    for (int output : first.outputs) {
      const ir::Value& v = graph.value(output);
      shapes.push_back({{"keras", ShapeJson(v.shape)}, {"torch", ShapeJson(layers::TorchShape(v))}});
    }
    entry["output_shapes"] = shapes;
    entry["notes"] = lowering.notes;
    report["layers"].push_back(entry);
  }
  report["parameters"] = total_parameters;
  report["complete"] = complete;
  report["warnings"] = c.warnings;
  return report;
}

bool ReportComplete(const Json& report) { return report.value("complete", false); }

std::string ReportMarkdown(const Json& report) {
  std::vector<std::string> lines;
  const Json& source = report["source"];
  lines.push_back("# Conversion report: " + Cell(source["file"].get<std::string>()));
  lines.push_back("");
  lines.push_back(fmt::format("- Source: {} ({})", Cell(source["format"].get<std::string>()),
                              Cell(source["keras"].get<std::string>())));
  lines.push_back(fmt::format("- Model: {} `{}` -> PyTorch class `{}`",
                              Cell(report["model"]["class"].get<std::string>()),
                              Cell(report["model"]["name"].get<std::string>()),
                              report["model"]["torch_class"].get<std::string>()));
  lines.push_back(fmt::format("- Result: **{}**", ReportComplete(report)
                                                      ? "complete"
                                                      : "incomplete (skeleton layers need code)"));
  lines.push_back(fmt::format("- Parameters: {}", report["parameters"].get<std::int64_t>()));
  lines.push_back(fmt::format("- Permutes in forward: {} inside the model, {} at its inputs and "
                              "outputs (io-layout {})",
                              report["permutes"]["interior"].get<int>(),
                              report["permutes"]["boundary"].get<int>(),
                              report["io_layout"].get<std::string>()));
  lines.push_back("");
  lines.push_back("| tensor | name | dtype | Keras shape | PyTorch shape |");
  lines.push_back("| --- | --- | --- | --- | --- |");
  for (const char* kind : {"inputs", "outputs"}) {
    for (const Json& t : report[kind]) {
      lines.push_back(fmt::format("| {} | {} | {} | {} | {} |", kind == std::string("inputs") ? "input" : "output",
                                  Cell(t["name"].get<std::string>()), t["dtype"].get<std::string>(),
                                  ShapeText(t["keras_shape"]), ShapeText(t["torch_shape"])));
    }
  }
  lines.push_back("");
  lines.push_back("| layer | class | status | PyTorch | parameters | output (Keras) | notes |");
  lines.push_back("| --- | --- | --- | --- | ---: | --- | --- |");
  for (const Json& layer : report["layers"]) {
    std::string shape;
    if (layer.contains("output_shapes") && !layer["output_shapes"].empty()) {
      shape = ShapeText(layer["output_shapes"][0]["keras"]);
    }
    std::vector<std::string> notes;
    for (const Json& note : layer["notes"]) notes.push_back(Cell(note.get<std::string>()));
    lines.push_back(fmt::format("| {} | {} | {} | {} | {} | {} | {} |",
                                Cell(layer["name"].get<std::string>()),
                                Cell(layer["class"].get<std::string>()),
                                layer["status"].get<std::string>(),
                                Cell(layer["torch"].get<std::string>()),
                                layer["parameters"].get<std::int64_t>(), shape,
                                Join(notes, "; ")));
  }
  if (!report["warnings"].empty()) {
    lines.push_back("");
    lines.push_back("## Warnings");
    lines.push_back("");
    for (const Json& w : report["warnings"]) lines.push_back("- " + Cell(w.get<std::string>()));
  }
  return Join(lines, "\n") + "\n";
}

}  // namespace k2t
