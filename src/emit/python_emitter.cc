//===- emit/python_emitter.cc - model.py from the lowered graph -------------===//
//
// The generated module reads like hand-written code: one attribute per Keras
// layer that has a module, named after the layer; forward in graph order, with
// the PyTorch shape of every tensor in a comment; one `x` threaded through
// straight chains and named variables where the graph branches.
//
//===----------------------------------------------------------------------===//
#include "emit/python_emitter.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <set>

#include "layers/registry.h"
#include "support/python_text.h"
#include "support/strings.h"

namespace k2t {
namespace {

constexpr int kMaxColumns = 100;

std::string IndexList(const std::vector<int>& perm) {
  std::vector<std::string> parts;
  for (int p : perm) parts.push_back(std::to_string(p));
  return Join(parts, ", ");
}

class ForwardWriter {
 public:
  ForwardWriter(const passes::Conversion& c, EmittedModel& out) : c_(c), out_(out) {}

  Expected<std::vector<std::string>> Write();

 private:
  void ComputeLastUses();
  // The variable holding `value`, converted as `change` says (if given).
  std::string ExpressionFor(int value, const passes::LayoutChange* change);
  std::string NameFor(const ir::Node& node, std::size_t position, std::size_t output);
  void Assign(const std::string& target, const std::string& expr, const std::string& comment);
  bool Dead(const std::string& var, std::size_t position) const;

  const passes::Conversion& c_;
  EmittedModel& out_;
  std::vector<std::string> lines_;
  std::map<int, std::string> var_of_;            // value -> variable
  std::map<int, std::size_t> last_use_;          // value -> position of last consumer
  std::set<std::string> locals_;
};

void ForwardWriter::ComputeLastUses() {
  const auto& graph = c_.graph;
  for (std::size_t position = 0; position < graph.nodes.size(); ++position) {
    const ir::Node& node = graph.nodes[position];
    for (int input : node.inputs) last_use_[input] = position;
    for (const auto& [key, input] : node.tensor_kwargs) last_use_[input] = position;
  }
  for (int output : graph.outputs) last_use_[output] = std::numeric_limits<std::size_t>::max();
}

bool ForwardWriter::Dead(const std::string& var, std::size_t position) const {
  for (const auto& [value, name] : var_of_) {
    if (name != var) continue;
    const auto it = last_use_.find(value);
    if (it != last_use_.end() && it->second > position) return false;
  }
  return true;
}

std::string ForwardWriter::ExpressionFor(int value, const passes::LayoutChange* change) {
  const std::string& var = var_of_.at(value);
  if (!change) return var;
  const ir::Value& v = c_.graph.value(value);
  const int rank = static_cast<int>(v.shape.size());
  const auto perm = PermutationBetween(v.layout, change->to, rank);
  // Moving only axes of size 1 keeps the elements in place: a reshape, not a permute.
  const Shape torch_shape = layers::TorchShape(v);
  const bool known = std::all_of(torch_shape.begin() + 1, torch_shape.end(),
                                 [](std::int64_t d) { return d >= 0; });
  if (known && ir::SameElementOrder(perm, torch_shape)) {
    std::vector<std::string> dims = {"-1"};
    for (std::size_t i = 1; i < perm.size(); ++i) {
      dims.push_back(std::to_string(torch_shape[static_cast<std::size_t>(perm[i])]));
    }
    return fmt::format("{}.reshape({})", var, Join(dims, ", "));
  }
  (change->at_boundary ? out_.boundary_permutes : out_.interior_permutes)++;
  return fmt::format("{}.permute({})", var, IndexList(perm));
}

std::string ForwardWriter::NameFor(const ir::Node& node, std::size_t position,
                                   std::size_t output) {
  const auto& graph = c_.graph;
  const int value = node.outputs[output];
  const ir::Value& v = graph.value(value);
  // Thread `x` through straight chains: one consumer, the very next call,
  // and nothing else still needing the current `x`.
  const bool chain = node.outputs.size() == 1 && v.consumers.size() == 1 &&
                     position + 1 < graph.nodes.size() &&
                     v.consumers[0] == graph.nodes[position + 1].id &&
                     graph.nodes[position + 1].inputs.size() == 1 &&
                     last_use_[value] != std::numeric_limits<std::size_t>::max();
  if (chain && Dead("x", position)) return "x";
  std::string base = PythonIdentifier(graph.layer_of(node).name, "out");
  if (node.outputs.size() > 1) base += fmt::format("_{}", output);
  return UniqueIdentifier(base, locals_);
}

// `target = expr  # comment`, or `return expr  # comment` when target is empty.
void ForwardWriter::Assign(const std::string& target, const std::string& expr,
                           const std::string& comment) {
  const std::string statement =
      target.empty() ? "        return " + expr : "        " + target + " = " + expr;
  const std::string inline_comment = "  # " + comment;
  if (comment.empty()) {
    lines_.push_back(statement);
  } else if (statement.size() + inline_comment.size() <= kMaxColumns) {
    lines_.push_back(statement + inline_comment);
  } else {
    lines_.push_back("        # " + comment);
    lines_.push_back(statement);
  }
}

Expected<std::vector<std::string>> ForwardWriter::Write() {
  const auto& graph = c_.graph;
  ComputeLastUses();
  locals_ = {"x", "self"};
  for (std::size_t i = 0; i < graph.inputs.size(); ++i) {
    const std::string name =
        graph.inputs.size() == 1
            ? "x"
            : UniqueIdentifier(PythonIdentifier(graph.input_names[i], "input"), locals_);
    var_of_[graph.inputs[i]] = name;
    out_.input_names.push_back(name);
  }

  std::map<std::pair<int, int>, const passes::LayoutChange*> changes;
  for (const auto& change : c_.layout_changes) {
    changes[{change.node, change.input}] = &change;
  }

  for (std::size_t position = 0; position < graph.nodes.size(); ++position) {
    const ir::Node& node = graph.nodes[position];
    const ir::Layer& layer = graph.layer_of(node);
    layers::CallContext context = c_.Context(node);
    layers::EmitContext emit;
    emit.attr = out_.attributes.count(layer.id) ? out_.attributes.at(layer.id) : "";
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      const auto it = changes.find({node.id, static_cast<int>(i)});
      emit.inputs.push_back(
          ExpressionFor(node.inputs[i], it == changes.end() ? nullptr : it->second));
    }
    for (const auto& [key, input] : node.tensor_kwargs) {
      emit.tensor_kwargs.emplace_back(key, ExpressionFor(input, nullptr));
    }

    const layers::Converter& converter = c_.ConverterOf(node);

    std::vector<std::string> targets;
    std::vector<std::string> shapes;
    for (std::size_t t = 0; t < node.outputs.size(); ++t) {
      shapes.push_back(FormatShape(layers::TorchShape(graph.value(node.outputs[t]))));
    }
    if (node.outputs.size() > 1 || converter.UsesStatements(context)) {
      for (std::size_t t = 0; t < node.outputs.size(); ++t) {
        targets.push_back(NameFor(node, position, t));
      }
    }

    // Calls that need several statements assign their outputs themselves.
    if (converter.UsesStatements(context)) {
      emit.temporary = [this](const std::string& hint) {
        return UniqueIdentifier(PythonIdentifier(hint, "tmp"), locals_);
      };
      auto statements = converter.EmitStatements(context, emit, targets);
      if (!statements.ok()) return passes::AtLayer(std::move(statements).error(), layer);
      lines_.push_back("        # " + Join(shapes, ", "));
      for (const std::string& line : *statements) lines_.push_back("        " + line);
      for (std::size_t t = 0; t < node.outputs.size(); ++t) var_of_[node.outputs[t]] = targets[t];
      continue;
    }

    auto expr = converter.EmitCall(context, emit);
    if (!expr.ok()) return passes::AtLayer(std::move(expr).error(), layer);

    // A layer that passes its input through adds no line; its output is the input.
    const bool plain_input = node.inputs.size() == 1 && *expr == var_of_[node.inputs[0]];
    if (node.outputs.size() == 1 && plain_input) {
      var_of_[node.outputs[0]] = *expr;
      continue;
    }

    // The last call producing the only output returns it directly.
    const bool final_output = position + 1 == graph.nodes.size() && graph.outputs.size() == 1 &&
                              node.outputs.size() == 1 && graph.outputs[0] == node.outputs[0] &&
                              !changes.count({-1, 0}) &&
                              graph.value(node.outputs[0]).consumers.empty();
    if (final_output) {
      const std::string shape = FormatShape(layers::TorchShape(graph.value(node.outputs[0])));
      Assign("", *expr, shape);
      return lines_;
    }

    if (targets.empty()) targets.push_back(NameFor(node, position, 0));
    for (std::size_t t = 0; t < node.outputs.size(); ++t) var_of_[node.outputs[t]] = targets[t];
    Assign(Join(targets, ", "), *expr, Join(shapes, ", "));
  }

  std::vector<std::string> results;
  for (std::size_t o = 0; o < graph.outputs.size(); ++o) {
    const auto it = changes.find({-1, static_cast<int>(o)});
    results.push_back(ExpressionFor(graph.outputs[o], it == changes.end() ? nullptr : it->second));
  }
  lines_.push_back("        return " + Join(results, ", "));
  return lines_;
}

// Splits a call's arguments at the top-level commas.
std::vector<std::string> TopLevelArguments(const std::string& arguments) {
  std::vector<std::string> parts;
  int depth = 0;
  bool quoted = false;
  std::string current;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const char ch = arguments[i];
    if (quoted) {
      current.push_back(ch);
      if (ch == '\\' && i + 1 < arguments.size()) {
        current.push_back(arguments[++i]);
      } else if (ch == '"') {
        quoted = false;
      }
      continue;
    }
    if (ch == '"') quoted = true;
    if (ch == '(' || ch == '[' || ch == '{') ++depth;
    if (ch == ')' || ch == ']' || ch == '}') --depth;
    if (ch == ',' && depth == 0) {
      parts.push_back(current);
      current.clear();
      continue;
    }
    current.push_back(ch);
  }
  parts.push_back(current);
  for (std::string& part : parts) {
    const auto first = part.find_first_not_of(' ');
    part = first == std::string::npos ? "" : part.substr(first);
  }
  return parts;
}

// `head + call`, wrapped as black would when longer than a line: the
// arguments on their own line, or one per line when they do not fit either.
std::string WrapAssignment(const std::string& head, const std::string& call) {
  const std::string line = head + call;
  const auto open = call.find('(');
  if (line.size() <= kMaxColumns || call.find('\n') != std::string::npos ||
      open == std::string::npos || call.back() != ')') {
    return line;
  }
  const std::string indent(head.find_first_not_of(' ') + 4, ' ');
  const std::string arguments = call.substr(open + 1, call.size() - open - 2);
  const std::string closing = std::string(indent.size() - 4, ' ') + ")";
  if (indent.size() + arguments.size() <= kMaxColumns) {
    return head + call.substr(0, open + 1) + "\n" + indent + arguments + "\n" + closing;
  }
  std::string out = head + call.substr(0, open + 1) + "\n";
  for (const std::string& argument : TopLevelArguments(arguments)) {
    out += indent + argument + ",\n";
  }
  return out + closing;
}

}  // namespace

std::vector<int> PermutationBetween(const ir::Layout& from, const ir::Layout& to, int rank) {
  auto axes = [rank](const ir::Layout& layout) {
    std::vector<int> perm(layout.perm);
    if (perm.empty()) {
      for (int i = 0; i < rank; ++i) perm.push_back(i);
    }
    return perm;
  };
  const auto source = axes(from);
  const auto target = axes(to);
  std::vector<int> perm;
  for (int keras_axis : target) {
    for (int i = 0; i < rank; ++i) {
      if (source[static_cast<std::size_t>(i)] == keras_axis) perm.push_back(i);
    }
  }
  return perm;
}

Expected<EmittedModel> EmitPython(const passes::Conversion& c, const EmitOptions& options) {
  const ir::Graph& graph = c.graph;
  EmittedModel out;
  out.class_name = PythonClassName(graph.model_name, "Model");

  // Module attributes, named after the Keras layers. Keras names layers
  // uniquely across nested models, so the plain name usually suffices; the
  // nested model's name is prefixed only where names would clash.
  std::map<std::string, int> name_counts;
  for (const ir::Layer& layer : graph.layers) {
    const auto& lowering = c.lowerings[static_cast<std::size_t>(layer.id)];
    if (layer.nodes.empty() || lowering.module.empty()) continue;
    ++name_counts[PythonIdentifier(layer.name, "layer")];
  }
  std::set<std::string> taken;
  for (const ir::Layer& layer : graph.layers) {
    const auto& lowering = c.lowerings[static_cast<std::size_t>(layer.id)];
    if (layer.nodes.empty() || lowering.module.empty()) continue;
    const std::string plain = PythonIdentifier(layer.name, "layer");
    const std::string wanted =
        name_counts[plain] > 1 ? PythonIdentifier(layer.QualifiedName(), "layer") : plain;
    out.attributes[layer.id] = UniqueIdentifier(wanted, taken);
  }

  ForwardWriter writer(c, out);
  K2T_ASSIGN_OR_RETURN(std::vector<std::string> forward, writer.Write());

  std::vector<std::string> lines;
  lines.push_back(fmt::format("# Generated by keras2torch {} from {} ({}, {} {}).",
                              options.tool_version, CommentText(options.source_name, 80),
                              CommentText(c.model.keras.Describe(), 40),
                              CommentText(graph.model_class, 40),
                              CommentText(PythonString(graph.model_name), 80)));
  lines.push_back("# Do not edit by hand; re-run keras2torch to regenerate.");

  std::set<std::string> imports;
  std::vector<std::pair<std::string, std::string>> definitions;
  std::set<std::string> defined;
  for (const auto& lowering : c.lowerings) {
    imports.insert(lowering.imports.begin(), lowering.imports.end());
    for (const auto& [name, source] : lowering.definitions) {
      if (defined.insert(name).second) definitions.emplace_back(name, source);
    }
    out.copy_files.insert(out.copy_files.end(), lowering.copy_files.begin(),
                          lowering.copy_files.end());
  }
  for (const std::string& line : imports) lines.push_back(line);
  lines.push_back("from pathlib import Path");
  lines.push_back("");
  lines.push_back("import torch");
  lines.push_back("from torch import nn");
  lines.push_back("from torch.nn import functional as F");
  for (const auto& [name, source] : definitions) {
    lines.push_back("");
    lines.push_back("");
    std::string body = source;
    while (!body.empty() && body.back() == '\n') body.pop_back();
    lines.push_back(body);
  }
  lines.push_back("");
  lines.push_back("");

  // The module class.
  std::vector<std::string> input_shapes;
  for (std::size_t i = 0; i < graph.inputs.size(); ++i) {
    const ir::Value& v = graph.value(graph.inputs[i]);
    input_shapes.push_back(out.input_names[i] + " " + FormatShape(layers::TorchShape(v)));
  }
  std::vector<std::string> output_shapes;
  for (int o : graph.outputs) output_shapes.push_back(FormatShape(layers::TorchShape(graph.value(o))));
  lines.push_back(fmt::format("class {}(nn.Module):", out.class_name));
  lines.push_back(fmt::format("    \"\"\"Input {} -> output {}.\"\"\"", Join(input_shapes, ", "),
                              Join(output_shapes, ", ")));
  lines.push_back("");
  lines.push_back("    def __init__(self) -> None:");
  lines.push_back("        super().__init__()");
  for (const ir::Layer& layer : graph.layers) {
    const auto it = out.attributes.find(layer.id);
    if (it == out.attributes.end()) continue;
    const auto& lowering = c.lowerings[static_cast<std::size_t>(layer.id)];
    if (it->second != layer.name) {
      lines.push_back("        # Keras layer " + CommentText(PythonString(layer.QualifiedName())));
    }
    for (const std::string& comment : lowering.comments) {
      lines.push_back("        # " + CommentText(comment));
    }
    lines.push_back(WrapAssignment("        self." + it->second + " = ", lowering.module));
  }
  lines.push_back("");

  std::vector<std::string> parameters = {"self"};
  for (const std::string& name : out.input_names) parameters.push_back(name + ": torch.Tensor");
  const std::string returns =
      graph.outputs.size() == 1
          ? "torch.Tensor"
          : "tuple[" + Join(std::vector<std::string>(graph.outputs.size(), "torch.Tensor"), ", ") +
                "]";
  std::string signature =
      fmt::format("    def forward({}) -> {}:", Join(parameters, ", "), returns);
  if (signature.size() > kMaxColumns) {
    lines.push_back("    def forward(");
    for (const std::string& p : parameters) lines.push_back("        " + p + ",");
    lines.push_back("    ) -> " + returns + ":");
  } else {
    lines.push_back(signature);
  }
  lines.insert(lines.end(), forward.begin(), forward.end());
  lines.push_back("");
  lines.push_back("");

  lines.push_back(fmt::format("def load_model(weights: str | Path | None = None) -> {}:",
                              out.class_name));
  lines.push_back("    \"\"\"Builds the model and loads its weights, in eval mode.");
  lines.push_back("");
  lines.push_back("    The weights come from `weights`, or from model.safetensors beside this file.");
  lines.push_back("    \"\"\"");
  lines.push_back("    from safetensors.torch import load_file");
  lines.push_back("");
  lines.push_back(fmt::format("    model = {}()", out.class_name));
  lines.push_back("    path = Path(weights) if weights is not None else "
                  "Path(__file__).with_name(\"model.safetensors\")");
  lines.push_back("    model.load_state_dict(load_file(path), strict=True)");
  lines.push_back("    return model.eval()");
  out.source = Join(lines, "\n") + "\n";
  return out;
}

}  // namespace k2t
