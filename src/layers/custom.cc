//===- layers/custom.cc - Custom layer classes: user mappings and skeletons -===//
#include "layers/custom.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "support/python_text.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

const std::regex& TorchModulePattern() {
  static const std::regex pattern("^(torch\\.)?nn\\.[A-Za-z_][A-Za-z0-9_]*$");
  return pattern;
}

const std::regex& ParamNamePattern() {
  static const std::regex pattern("^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z0-9_]+)*$");
  return pattern;
}

// Loads a user's module that the converter copied beside model.py.
constexpr const char* kImportUserModuleSource = R"(def _import_user_module(file_name: str):
    """Imports a module copied beside this file by keras2torch (--custom)."""
    path = Path(__file__).with_name(file_name)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
)";

bool IsIdentifier(const std::string& text) {
  static const std::regex pattern("^[A-Za-z_][A-Za-z0-9_]*$");
  return std::regex_match(text, pattern);
}

// The short name of a weight: "my_dense/w:0" -> "w"; v3 indices stay "0".
std::string ShortWeightName(const std::string& name) {
  std::string last = Split(name, '/').back();
  const auto colon = last.find(':');
  if (colon != std::string::npos) last = last.substr(0, colon);
  return last;
}

Expected<CustomMapping> ReadOne(const std::string& class_name, const Json& entry,
                                const std::filesystem::path& base) {
  if (!entry.is_object()) return MakeError("the entry must be an object");
  CustomMapping mapping;
  mapping.class_name = class_name;
  static const std::set<std::string> known = {"module", "python", "class", "args",
                                              "weights", "output_shape", "layout"};
  for (const auto& [key, value] : entry.items()) {
    if (!known.count(key)) return MakeError("unknown key '{}'", PrintableText(key));
  }

  if (entry.contains("module")) {
    if (!entry["module"].is_string() ||
        !std::regex_match(entry["module"].get<std::string>(), TorchModulePattern())) {
      return MakeError("'module' must name a torch.nn class such as \"nn.Linear\"");
    }
    std::string module = entry["module"].get<std::string>();
    if (StartsWith(module, "torch.")) module = module.substr(6);
    mapping.torch_module = module;
  } else if (entry.contains("python")) {
    if (!entry["python"].is_string() || !entry.contains("class") || !entry["class"].is_string() ||
        !IsIdentifier(entry["class"].get<std::string>())) {
      return MakeError("'python' needs a file name and 'class' the nn.Module class in it");
    }
    const std::filesystem::path file = base / entry["python"].get<std::string>();
    std::error_code code;
    if (!std::filesystem::is_regular_file(file, code)) {
      return MakeError("Python file '{}' does not exist", file.string());
    }
    mapping.python_file = std::filesystem::absolute(file).string();
    mapping.python_class = entry["class"].get<std::string>();
  } else {
    return MakeError("give either 'module' (a torch.nn class) or 'python' and 'class'");
  }

  mapping.args = entry.value("args", Json::object());
  if (!mapping.args.is_object()) return MakeError("'args' must be an object");
  for (const auto& [name, value] : mapping.args.items()) {
    if (!IsIdentifier(name)) return MakeError("argument name '{}' is not an identifier", name);
  }
  mapping.weights = entry.value("weights", Json::object());
  if (!mapping.weights.is_object()) return MakeError("'weights' must be an object");
  for (const auto& [name, value] : mapping.weights.items()) {
    if (!std::regex_match(name, ParamNamePattern())) {
      return MakeError("weight name '{}' is not a PyTorch parameter name", name);
    }
    if (!value.is_object() || !value.contains("from") ||
        !(value["from"].is_string() || value["from"].is_number_unsigned())) {
      return MakeError("weight '{}' needs \"from\": the Keras weight's name or index", name);
    }
  }
  mapping.output_shape = entry.value("output_shape", Json());
  const std::string layout = entry.value("layout", "keras");
  if (layout != "keras" && layout != "channels_first") {
    return MakeError("'layout' must be \"keras\" or \"channels_first\"");
  }
  mapping.channels_first = layout == "channels_first";
  return mapping;
}

// Resolves "$config.KEY", "$input.shape[K]", "$inputN.shape[K]" in a mapping value.
Expected<Json> Substitute(const Json& value, const CallContext& call) {
  if (value.is_array()) {
    Json out = Json::array();
    for (const Json& item : value) {
      K2T_ASSIGN_OR_RETURN(Json resolved, Substitute(item, call));
      out.push_back(resolved);
    }
    return out;
  }
  if (!value.is_string() || !StartsWith(value.get<std::string>(), "$")) return value;
  const std::string text = value.get<std::string>();
  if (StartsWith(text, "$config.")) {
    const std::string key = text.substr(8);
    if (!call.layer.config().contains(key)) {
      return MakeError("'{}' refers to config key '{}', which the layer does not have", text, key);
    }
    return call.layer.config()[key];
  }
  static const std::regex input_pattern("^\\$input([0-9]*)\\.shape\\[(-?[0-9]+)\\]$");
  std::smatch match;
  if (std::regex_match(text, match, input_pattern)) {
    const std::size_t index = match[1].str().empty() ? 0 : std::stoul(match[1].str());
    if (index >= call.input_count()) return MakeError("'{}': the layer has no input {}", text, index);
    const Shape& shape = call.input(index).shape;
    const int rank = static_cast<int>(shape.size());
    int axis = std::stoi(match[2].str());
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return MakeError("'{}': axis out of range", text);
    const std::int64_t dim = shape[static_cast<std::size_t>(axis)];
    if (dim < 0) return MakeError("'{}': that dimension is not known", text);
    return Json(dim);
  }
  return MakeError("'{}' is not a reference this tool knows ($config.KEY, $input.shape[K])",
                   PrintableText(text));
}

Expected<std::vector<Shape>> RecordedOrUnknown(const CallContext& call) {
  std::vector<Shape> shapes;
  for (int output : call.node.outputs) shapes.push_back(call.graph.value(output).recorded_shape);
  return shapes;
}

Expected<int> FindWeight(const Json& from, const std::vector<WeightRef>& weights,
                         const std::string& param) {
  if (from.is_number_unsigned()) {
    const auto index = from.get<std::size_t>();
    if (index >= weights.size()) {
      return MakeError("weight '{}' comes from index {}, but the layer has {} weight(s)", param,
                       index, weights.size());
    }
    return static_cast<int>(index);
  }
  const std::string wanted = from.get<std::string>();
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (weights[i].name == wanted || ShortWeightName(weights[i].name) == wanted) {
      return static_cast<int>(i);
    }
  }
  std::vector<std::string> names;
  for (const auto& w : weights) names.push_back(ShortWeightName(w.name));
  return MakeError("weight '{}' comes from '{}', but the layer's weights are [{}]", param,
                   PrintableText(wanted), PrintableText(Join(names, ", ")));
}

class MappedConverter : public Converter {
 public:
  explicit MappedConverter(CustomMapping mapping) : mapping_(std::move(mapping)) {}

  bool TakesAllWeights() const override { return true; }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    const Json& declared = mapping_.output_shape;
    if (declared.is_string() && declared.get<std::string>() == "same") {
      return std::vector<Shape>{call.input().shape};
    }
    if (declared.is_array()) {
      K2T_ASSIGN_OR_RETURN(Json resolved, Substitute(declared, call));
      Shape shape;
      for (const Json& dim : resolved) {
        if (dim.is_null()) {
          shape.push_back(-1);
        } else if (dim.is_number_integer()) {
          shape.push_back(dim.get<std::int64_t>());
        } else {
          return MakeError("output_shape entries must be integers or null, found {}",
                           Abbreviate(dim));
        }
      }
      return std::vector<Shape>{shape};
    }
    if (!declared.is_null()) return MakeError("output_shape must be \"same\" or a list");
    if (!call.output().recorded_shape.empty()) return RecordedOrUnknown(call);
    return MakeError("the mapping for class '{}' gives no output_shape and the file does not "
                     "record one; add \"output_shape\" to the mapping",
                     PrintableText(mapping_.class_name));
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>&) const override {
    if (mapping_.channels_first) return ChannelsFirstPlan(call, true);
    return KerasOrderPlan(call);
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    Lowering lowering;
    std::vector<std::string> args;
    for (const auto& [name, value] : mapping_.args.items()) {
      auto resolved = Substitute(value, call);
      if (!resolved.ok()) {
        return MakeError("custom mapping argument '{}': {}", name, resolved.error().message());
      }
      args.push_back(name + "=" + PythonLiteral(*resolved));
    }
    std::string constructor;
    if (!mapping_.torch_module.empty()) {
      constructor = mapping_.torch_module;
      lowering.summary = mapping_.torch_module + " (custom mapping)";
    } else {
      const std::filesystem::path file(mapping_.python_file);
      const std::string module_var = "_" + PythonIdentifier(file.stem().string(), "user");
      const std::string file_name = module_var.substr(1) + ".py";
      lowering.copy_files.emplace_back(mapping_.python_file, file_name);
      lowering.imports.insert("import importlib.util");
      lowering.definitions.emplace_back("_import_user_module", kImportUserModuleSource);
      lowering.definitions.emplace_back(
          module_var, fmt::format("{} = _import_user_module({})\n", module_var,
                                  PythonString(file_name)));
      constructor = module_var + "." + mapping_.python_class;
      lowering.summary = mapping_.python_class + " (user module)";
    }
    lowering.module = constructor + "(" + Join(args, ", ") + ")";
    lowering.notes.push_back("converted with the user's mapping for class '" +
                             PrintableText(mapping_.class_name) + "'");

    const std::vector<WeightRef>& weights = *call.weights;
    std::set<int> used;
    for (const auto& [name, spec] : mapping_.weights.items()) {
      auto index = FindWeight(spec["from"], weights, name);
      if (!index.ok()) return std::move(index).error();
      used.insert(*index);
      const WeightRef& source = weights[static_cast<std::size_t>(*index)];
      Param param;
      param.key = name;
      param.sources = {*index};
      param.shape = source.shape;
      std::vector<int> perm;
      if (spec.contains("transpose")) {
        const Json& t = spec["transpose"];
        if (!t.is_array() || t.size() != source.shape.size()) {
          return MakeError("weight '{}': transpose must list {} axes", name, source.shape.size());
        }
        Shape shape;
        std::set<int> seen;
        for (const Json& axis : t) {
          if (!axis.is_number_integer() || axis.get<int>() < 0 ||
              axis.get<int>() >= static_cast<int>(source.shape.size()) ||
              !seen.insert(axis.get<int>()).second) {
            return MakeError("weight '{}': transpose {} is not a permutation of the axes", name,
                             Abbreviate(t));
          }
          perm.push_back(axis.get<int>());
          shape.push_back(source.shape[static_cast<std::size_t>(axis.get<int>())]);
        }
        param.shape = shape;
      }
      param.transform = [perm](std::vector<Tensor> sources) -> Expected<Tensor> {
        if (perm.empty()) return std::move(sources[0]);
        return sources[0].Permute(perm);
      };
      lowering.params.push_back(std::move(param));
    }
    for (std::size_t i = 0; i < weights.size(); ++i) {
      if (!used.count(static_cast<int>(i))) {
        return MakeError("the mapping for class '{}' does not use weight {} ('{}'); every "
                         "weight must be mapped",
                         PrintableText(mapping_.class_name), i, PrintableText(weights[i].name));
      }
    }
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    const std::string args = Join(emit.inputs, ", ");
    if (call.node.call && call.node.call->list_input) {
      return fmt::format("{}([{}])", emit.self(), args);
    }
    return fmt::format("{}({})", emit.self(), args);
  }

 private:
  CustomMapping mapping_;
};

class SkeletonConverter : public Converter {
 public:
  explicit SkeletonConverter(SkeletonOptions options) : options_(std::move(options)) {}

  bool TakesAllWeights() const override { return true; }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    // Shapes the layer's config declares (a Lambda's output_shape) when the
    // file records none: batch first, then the declared sizes.
    if (!options_.declared_shapes.empty() && call.output().recorded_shape.empty() &&
        options_.declared_shapes.size() == call.node.outputs.size()) {
      std::vector<Shape> shapes;
      for (const Shape& declared : options_.declared_shapes) {
        Shape shape = {-1};
        shape.insert(shape.end(), declared.begin(), declared.end());
        shapes.push_back(shape);
      }
      return shapes;
    }
    return RecordedOrUnknown(call);
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    const std::string keras_class =
        call.layer.spec->registered_name.empty() ? call.layer.class_name
                                                 : call.layer.spec->registered_name;
    const std::string class_name = PythonClassName(
        options_.class_name.empty() ? call.layer.class_name : options_.class_name, "Custom");
    Lowering lowering;
    lowering.fidelity = Fidelity::kSkeleton;
    lowering.summary = "skeleton " + class_name;
    lowering.notes.push_back(
        options_.reason +
        (options_.details.empty() ? ": its computation is not in the file" : "") +
        "; the generated class holds its weights and its forward raises NotImplementedError");

    std::ostringstream source;
    source << "class " << class_name << "(nn.Module):\n";
    source << "    \"\"\"Skeleton of the Keras layer class "
           << PythonClassName(call.layer.class_name, "Custom") << ".\n\n";
    if (options_.details.empty()) {
      source << "    keras2torch cannot know what this layer computes: write forward() from the\n";
      source << "    Keras class's call(). The weights below are loaded from the Keras file.\n";
    } else {
      source << "    " << DocstringText(options_.details, 4) << "\n";
    }
    source << "    \"\"\"\n\n";
    source << "    keras_config = " << PythonLiteralBlock(call.layer.config(), 4) << "\n\n";
    source << "    def __init__(self) -> None:\n";
    source << "        super().__init__()\n";
    std::set<std::string> taken;
    const std::vector<WeightRef>& weights = *call.weights;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      const WeightRef& weight = weights[i];
      std::string short_name = ShortWeightName(weight.name);
      if (!short_name.empty() && short_name[0] >= '0' && short_name[0] <= '9') {
        short_name = "var_" + short_name;
      }
      const std::string name = UniqueIdentifier(PythonIdentifier(short_name, "var"), taken);
      std::vector<std::string> dims;
      for (auto d : weight.shape) dims.push_back(std::to_string(d));
      source << "        self." << name << " = nn.Parameter(torch.empty("
             << Join(dims, ", ") << "))  # Keras weight " << CommentText(weight.name) << "\n";
      Param param;
      param.key = name;
      param.shape = weight.shape;
      param.sources = {static_cast<int>(i)};
      param.transform = [](std::vector<Tensor> sources) -> Expected<Tensor> {
        return std::move(sources[0]);
      };
      lowering.params.push_back(std::move(param));
    }
    const std::string message =
        options_.details.empty()
            ? fmt::format("layer {} of Keras class {} was not translated by keras2torch; write "
                          "{}.forward (its Keras config is {}.keras_config): {}",
                          call.layer.QualifiedName(), keras_class, class_name, class_name,
                          Abbreviate(call.layer.config(), 400))
            : fmt::format("layer {} of Keras class {} was not translated by keras2torch; write "
                          "{}.forward. {}",
                          call.layer.QualifiedName(), keras_class, class_name, options_.details);
    source << "\n    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:\n";
    source << "        raise NotImplementedError(\n            "
           << WrappedPythonString(message, 12) << "\n        )\n";
    lowering.definitions.emplace_back(class_name, source.str());
    lowering.module = class_name + "()";
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext&, const EmitContext& emit) const override {
    return fmt::format("{}({})", emit.self(), Join(emit.inputs, ", "));
  }

 private:
  SkeletonOptions options_;
};

}  // namespace

const CustomMapping* CustomMappings::Find(const std::string& class_name,
                                          const std::string& registered_name) const {
  auto it = by_class.find(class_name);
  if (it != by_class.end()) return &it->second;
  it = by_class.find(registered_name);
  if (it != by_class.end()) return &it->second;
  return nullptr;
}

Expected<CustomMappings> ReadCustomMappings(const std::string& path) {
  auto read = [&]() -> Expected<CustomMappings> {
    std::ifstream in(path);
    if (!in) return MakeError("cannot open the custom mapping file");
    std::stringstream text;
    text << in.rdbuf();
    K2T_ASSIGN_OR_RETURN(Json json, ParseJson(text.str()));
    if (!json.is_object()) return MakeError("the custom mapping must be a JSON object by class");
    CustomMappings mappings;
    mappings.path = path;
    const auto base = std::filesystem::path(path).parent_path();
    for (const auto& [class_name, entry] : json.items()) {
      auto mapping = ReadOne(class_name, entry, base);
      if (!mapping.ok()) {
        return MakeError("mapping for class '{}': {}", PrintableText(class_name),
                         mapping.error().message());
      }
      mappings.by_class[class_name] = std::move(*mapping);
    }
    return mappings;
  };
  auto result = read();
  if (!result.ok()) return std::move(result.error().InFile(path));
  return result;
}

std::shared_ptr<const Converter> MakeMappedConverter(const CustomMapping& mapping) {
  return std::make_shared<MappedConverter>(mapping);
}

std::shared_ptr<const Converter> MakeSkeletonConverter(const std::string& reason) {
  SkeletonOptions options;
  options.reason = reason;
  return std::make_shared<SkeletonConverter>(std::move(options));
}

std::shared_ptr<const Converter> MakeSkeletonConverter(SkeletonOptions options) {
  return std::make_shared<SkeletonConverter>(std::move(options));
}

}  // namespace k2t::layers
